"""What machine llama.cpp runs on, as far as its arithmetic is concerned: the CPU, its features, the kernels.

Pure (reads /proc/cpuinfo and llama.cpp's system-info text, imports no llama_cpp), so result files and
checks can describe and compare machines without loading llama.cpp.
"""

from __future__ import annotations


def cpu_flags() -> set[str]:
    """The CPU's feature flags as the kernel lists them (empty where /proc/cpuinfo is not there)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith(("flags", "Features")):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_summary(flags: set[str] | None = None) -> str:
    """The features that decide llama.cpp's CPU kernels, e.g. 'AMX, AVX-512 VNNI, AVX2' or 'AVX2'."""
    flags = cpu_flags() if flags is None else flags
    names = []
    if flags & {"amx_int8", "amx_bf16", "amx_tile"}:
        names.append("AMX")
    if "avx512f" in flags:
        names.append("AVX-512" + (" VNNI" if "avx512_vnni" in flags else ""))
    if "avx2" in flags:
        names.append("AVX2")
    return ", ".join(names) or "no AVX2"


def cpu_name() -> str:
    """The CPU's model name ('AMD EPYC 9B14'), or 'unknown'."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def kernel_family(system_info: str) -> str:
    """Which kernels llama.cpp runs, from its system info: the widest CPU family it uses ('AMX',
    'AVX-512', 'AVX2' ...) and any GPU backend. Texts can part between families, never within one."""
    features = {
        name.split(":")[-1].strip()
        for name, _, value in (part.partition("=") for part in system_info.split("|"))
        if value.strip() == "1"
    }
    cpu = next(
        (
            label
            for flag, label in (
                ("AMX_INT8", "AMX"),
                ("AVX512", "AVX-512"),
                ("AVX2", "AVX2"),
                ("AVX", "AVX"),
                ("NEON", "NEON"),
            )
            if flag in features
        ),
        "generic CPU",
    )
    devices = [part.split(":", 1)[0].strip() for part in system_info.split("|") if ":" in part]
    gpus = [name for name in devices if name and name != "CPU"]
    return " + ".join([cpu, *gpus])

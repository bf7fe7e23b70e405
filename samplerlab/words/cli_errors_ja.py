"""Japanese for the CLI's usage errors, click's own parameter errors, the notes the library prints and the
--check verdicts (appended to ``errors_ja.PATTERNS``): translated at the edge by their shape, as the
library's errors are."""

from __future__ import annotations

CLI_PATTERNS: tuple[tuple[str, str], ...] = (
    # the CLI's usage errors (cli/*.py)
    (
        r"give a PROMPT, or --chat FILE to compare the next reply of a conversation",
        r"PROMPT を指定するか、--chat FILE で会話の次の返答を比べてください",
    ),
    (
        r"--chat-select and --context-policy apply to a --chat conversation",
        r"--chat-select と --context-policy は --chat の会話にだけ使えます",
    ),
    (
        r"--chat needs chat mode: a conversation is rendered by the model's chat template",
        r"--chat には chat モードが必要です（会話はモデルのチャットテンプレートで組み立てます）",
    ),
    (
        r"--load sets how a local model loads; a llama-server loads its own \(drop --load\)",
        r"--load はローカルのモデルの読み込み方を決めます。llama-server は自分で読み込みます（--load を外してください）",
    ),
    (
        r"--check takes only the result file \(and --server\); it reruns exactly what was recorded",
        r"--check に渡せるのは結果ファイル（と --server）だけです。記録どおりに実行し直します",
    ),
    (
        r"give an EXPERIMENT file, or --check RESULT, or --resume RUN_ID",
        r"EXPERIMENT ファイルか、--check RESULT か、--resume RUN_ID を指定してください",
    ),
    (
        r"--resume goes on with the run's recorded settings: drop --max-tokens, --model and --keep-candidates",
        r"--resume は記録された設定で続けます。--max-tokens、--model、--keep-candidates を外してください",
    ),
    (
        r"--resume: expected a run id \(a number, see samplerlab history\) or nothing, got (?P<v>.+)",
        r"--resume: 実行 ID（数字。samplerlab history を参照）を指定するか何も付けないでください（受け取った値: \g<v>）",
    ),
    (
        r"--seeds (?P<v>\S+): expected a count \(16\) or a list of seeds \(0,1,2\)",
        r"--seeds \g<v>: 数（16）かシードの並び（0,1,2）を指定してください",
    ),
    (r"--seeds (?P<v>\S+): expected 1 to (?P<m>\d+) seeds", r"--seeds \g<v>: シードは 1 〜 \g<m> 個にしてください"),
    (
        r"--seeds: expected at most (?P<m>\d+) different seeds, got (?P<n>\d+)",
        r"--seeds: 互いに異なるシードを最大 \g<m> 個指定してください（\g<n> 個）",
    ),
    (r"give 2 to 6 contenders with --preset NAME", r"--preset NAME で候補を 2 〜 6 個指定してください"),
    (
        r"give --prompt TEXT \(repeat for a list\) or --chat FILE",
        r"--prompt TEXT（複数なら繰り返す）か --chat FILE を指定してください",
    ),
    (
        r"(?P<v>'[^']*'): expected a count \(4\) or a list of seeds \(0,7,9\)",
        r"\g<v>: 数（4）かシードの並び（0,7,9）を指定してください",
    ),
    (r"(?P<v>'[^']*'): expected 1 to 1000 seeds", r"\g<v>: シードは 1 〜 1000 個にしてください"),
    (r"(?P<v>'[^']*'): seeds are 0 to 4294967295", r"\g<v>: シードは 0 〜 4294967295 です"),
    # click's own parameter errors (click/exceptions.py, click/types.py)
    (r"Invalid value for (?P<o>'[^']*'): ", r"\g<o> の値が正しくありません: "),
    (
        r"(?P<v>\S+) is not in the range (?P<r>\S+?)\.",
        r"\g<v> は範囲 \g<r> の外です。",
    ),
    (r"(?P<v>'[^']*') is not a valid integer\.", r"\g<v> は整数ではありません。"),
    (r"(?P<v>'[^']*') is not a valid float\.", r"\g<v> は数値ではありません。"),
    (r"(?P<v>'[^']*') is not one of (?P<c>.+)\.", r"\g<v> は \g<c> のいずれでもありません。"),
    (r"Path (?P<p>'[^']*') does not exist\.", r"パス \g<p> はありません。"),
    (r"File (?P<p>'[^']*') does not exist\.", r"ファイル \g<p> はありません。"),
    (r"Directory (?P<p>'[^']*') does not exist\.", r"ディレクトリ \g<p> はありません。"),
    (
        r"(?:File|Directory|Path) (?P<p>'[^']*') is a file\.",
        r"\g<p> はファイルです（ディレクトリを指定してください）。",
    ),
    (
        r"(?:File|Directory|Path) (?P<p>'[^']*') is a directory\.",
        r"\g<p> はディレクトリです（ファイルを指定してください）。",
    ),
    (r"(?:File|Directory|Path) (?P<p>'[^']*') is not readable\.", r"\g<p> は読めません。"),
    (r"(?:File|Directory|Path) (?P<p>'[^']*') is not writable\.", r"\g<p> には書き込めません。"),
    (
        r"(?P<v>'[^']*') is not a valid boolean\. Recognized values: (?P<s>.+)",
        r"\g<v> は真偽値ではありません。使える値: \g<s>",
    ),
    (r"Missing argument (?P<a>'[^']*')\.", r"引数 \g<a> がありません。"),
    (r"Missing option (?P<o>'[^']*')\. ?", r"オプション \g<o> がありません。"),
    (r"No such option:? (?P<o>'[^']*'|\S+?)\.?$", r"そのようなオプションはありません: \g<o>"),
    (r"Choose from:", r"次から選んでください:"),
    (r"No such command (?P<c>'[^']*')\.", r"そのようなコマンドはありません: \g<c>。"),
    (r"Got unexpected extra arguments? \((?P<a>[^)]*)\)", r"余分な引数があります（\g<a>）"),
    (r"Option (?P<o>'[^']*') requires an argument\.", r"オプション \g<o> には値が必要です。"),
    (r" ?\(Did you mean one of: (?P<o>.+?)\?\)", r"（\g<o> のどれかのことですか？）"),
    (r" Did you mean (?P<o>\S+)\?", r"（\g<o> のことですか？）"),
    # the operating system's words for a file that cannot be read (strerror), which the library quotes
    (r"No such file or directory", r"そのようなファイルやディレクトリはありません"),
    (r"Permission denied", r"アクセスが拒否されました"),
    (r"Is a directory", r"ディレクトリです"),
    (r"Not a directory", r"ディレクトリではありません"),
    (r"File exists", r"ファイルがすでにあります"),
    (r"No space left on device", r"デバイスに空きがありません"),
    (r"Connection refused", r"接続が拒否されました"),
    # --check (runs/results.py CheckReport, first_difference; runs/runner.py other_machine)
    (r"^reproduced (?P<n>\d+) columns", r"\g<n> 列を再現しました"),
    (r"^reproduced (?P<n>\d+) texts", r"\g<n> 件の文章を再現しました"),
    (
        r"^NOT reproduced here: (?P<m>.+); re-record on this machine \((?P<w>.*)\)$",
        r"このマシンでは再現できませんでした: \g<m>。このマシンで記録し直してください（\g<w>）",
    ),
    (r"^NOT reproduced: ", r"再現できませんでした: "),
    (r"token (?P<i>\d+): recorded (?P<a>.+?), now (?P<b>.+)", r"トークン \g<i>: 記録は \g<a>、今回は \g<b>"),
    (
        r"text at character (?P<i>\d+): recorded (?P<a>.+?), now (?P<b>.+)",
        r"文字 \g<i> の文章: 記録は \g<a>、今回は \g<b>",
    ),
    (r"finish reason: recorded (?P<a>\S+), now (?P<b>\S+)", r"終了理由: 記録は \g<a>、今回は \g<b>"),
    (r"\(end\)", r"（終わり）"),
    (
        r"recorded on (?P<a>.+?) kernels, this machine runs (?P<b>.+?): llama\.cpp's arithmetic differs, so texts can part",
        r"記録は \g<a> のカーネル、このマシンは \g<b>: llama.cpp の計算が違うため文章が分かれることがあります",
    ),
    (
        r"recorded with llama-cpp-python (?P<a>\S+), this is (?P<b>\S+): another llama\.cpp computes other texts",
        r"記録は llama-cpp-python \g<a>、これは \g<b>: 別の llama.cpp は別の文章を計算します",
    ),
    # notes (backends/pool.py, backends/slots.py, runs/durable.py, runs/store.py)
    (
        r"(?P<s>\S+) left out of this run \((?P<w>.+)\)$",
        r"\g<s> はこの実行から外しました（\g<w>）",
    ),
    (
        r"(?P<s>\S+) failed mid-run \((?P<e>.+)\); its (?P<n>\d+) unfinished column\(s\) started again on the "
        r"other servers",
        r"\g<s> が実行の途中で失敗しました（\g<e>）。終わっていない \g<n> 列をほかのサーバーでやり直しました",
    ),
    (
        r"run (?P<r>\d+): left out (?P<n>\d+) column\(s\) stopped before their end \(they would not reproduce\)",
        r"実行 \g<r>: 最後まで行かずに止まった \g<n> 列を除きました（再現できないため）",
    ),
    (
        r"run (?P<r>\d+) is (?P<s>\w+): the result holds (?P<k>\d+) of (?P<t>\d+) generations",
        r"実行 \g<r> は \g<s> です。結果に入っているのは生成 \g<t> 件中 \g<k> 件です",
    ),
    (
        r"run store: dropped the (?P<n>\d+) oldest run\(s\) \((?P<i>[^;]*); (?P<m>\S+) MiB\) to stay within "
        r"(?P<x>\d+) MiB \((?P<e>\w+)\)",
        r"実行記録: \g<x> MiB（\g<e>）に収めるため、古い実行 \g<n> 件（\g<i>、\g<m> MiB）を削除しました",
    ),
    (r"this run is not recorded \((?P<e>.+)\)$", r"この実行は記録されません（\g<e>）"),
)

"""Error messages in the reader's language, where they reach a person (the app, the CLI).

The library words its one-line errors in English, with the file, key and value that matter. Rather
than thread a language through every raise, the messages are translated at the edge by their
shape: each pattern below matches one family of messages and keeps its names and values. A
message no pattern knows stays in English, so nothing is ever lost.
"""

from __future__ import annotations

import re

# (English shape, Japanese wording); groups keep names and values as they were.
PATTERNS: tuple[tuple[str, str], ...] = (
    (
        r"(?P<v>\S+) is out of range; expected (?P<a>\S+) to (?P<b>\S+)",
        r"\g<v> は範囲外です（\g<a> 〜 \g<b> を指定してください）",
    ),
    (r"unknown setting (?P<n>'[^']*') \(did you mean (?P<m>'[^']*')\?\)", r"不明な設定 \g<n>（\g<m> のことですか？）"),
    (r"unknown setting (?P<n>'[^']*')", r"不明な設定 \g<n>"),
    (r"expected a whole number, got (?P<v>.+)", r"整数を指定してください（受け取った値: \g<v>）"),
    (r"expected a finite number, got (?P<v>.+)", r"有限の数値を指定してください（受け取った値: \g<v>）"),
    (r"expected a number, got (?P<v>.+)", r"数値を指定してください（受け取った値: \g<v>）"),
    (r"expected true or false, got (?P<v>.+)", r"true か false を指定してください（受け取った値: \g<v>）"),
    (r"expected one of (?P<c>.+), got (?P<v>.+)", r"\g<c> のいずれかを指定してください（受け取った値: \g<v>）"),
    (r"unknown preset (?P<n>'[^']*'); known: (?P<k>.+)", r"不明なプリセット \g<n>。あるもの: \g<k>"),
    (
        r"cannot connect \((?P<r>[^)]*)\); is llama-server running there\?",
        r"接続できません（\g<r>）。そこで llama-server は動いていますか？",
    ),
    (
        r"refused with HTTP (?P<c>\d+) \(wrong API key; pass --api-key or set SAMPLERLAB_API_KEY\)",
        r"HTTP \g<c> で拒否されました（API キーが違います。--api-key か SAMPLERLAB_API_KEY で指定してください）",
    ),
    (
        r"refused with HTTP (?P<c>\d+) \(it needs an API key; pass --api-key or set SAMPLERLAB_API_KEY\)",
        r"HTTP \g<c> で拒否されました（API キーが必要です。--api-key か SAMPLERLAB_API_KEY で指定してください）",
    ),
    (
        r"sent no complete event within (?P<s>\S+) s \(stalled, overloaded, or sending a little at a time\?\)",
        r"\g<s> 秒以内にイベントを送り終えませんでした（止まっているか、過負荷か、少しずつしか送っていない？）",
    ),
    (
        r"no complete answer to (?P<m>[A-Z]+) (?P<p>\S+) within (?P<s>\S+) s",
        r"\g<m> \g<p> への応答が \g<s> 秒以内に届きませんでした",
    ),
    (
        r"the server closed the stream mid-run \(it stopped or crashed\?\)",
        r"生成の途中でサーバーが接続を閉じました（停止かクラッシュ？）",
    ),
    (
        r"this was samplerlab's first probe of it: if llama-server crashed there, start it with --no-repack "
        r"\(with repack on llama\.cpp crashes on AMX CPUs, llama\.cpp#20824\) and read its log",
        r"これは samplerlab による最初の確認でした。そこで llama-server がクラッシュしたなら、--no-repack を付けて"
        r"起動し直し、そのログを確認してください（repack が有効だと AMX の CPU で llama.cpp がクラッシュします。llama.cpp#20824）",
    ),
    (
        r"llama\.cpp crashed \((?P<s>\w+)\) loading (?P<f>\S+) with repack on this CPU \((?P<c>[^)]*)\)(?P<t>.*); "
        r"load with repack off",
        r"この CPU（\g<c>）で repack を有効にして \g<f> を読み込むと llama.cpp がクラッシュしました（\g<s>）\g<t>。"
        r"repack を無効にして読み込んでください",
    ),
    (
        r"llama\.cpp crashed \((?P<s>\w+)\) loading it with (?P<w>.+?) on this CPU \((?P<c>[^)]*)\)(?P<t>.*); "
        r"the file may be damaged or made for another llama\.cpp; nothing was loaded",
        r"\g<w> で読み込むと、この CPU（\g<c>）で llama.cpp がクラッシュしました（\g<s>）\g<t>。ファイルが壊れているか、"
        r"別の llama.cpp 向けの可能性があります。何も読み込んでいません",
    ),
    (r"the default load settings で読み込むと", r"既定の読み込み設定で読み込むと"),
    (
        r"the prompt is (?P<n>\d+) tokens but the context holds (?P<m>\d+) per column; shorten the prompt or raise n_ctx",
        r"プロンプトが \g<n> トークンありますが、コンテキストは列ごとに \g<m> トークンです。プロンプトを短くするか n_ctx を上げてください",
    ),
    (
        r"the prompt is (?P<n>\d+) tokens but (?P<u>\S+) holds (?P<m>\d+) per slot; shorten the prompt or restart the "
        r"server with a larger -c",
        r"プロンプトが \g<n> トークンありますが、\g<u> はスロットごとに \g<m> トークンです。プロンプトを短くするか、"
        r"より大きな -c でサーバーを起動し直してください",
    ),
    (
        r"the prompt is (?P<n>\d+) bytes, more than a context of (?P<m>\d+) tokens can hold \(at most (?P<k>\d+) "
        r"bytes of this model's text\); shorten the prompt or raise n_ctx",
        r"プロンプトが \g<n> バイトあり、\g<m> トークンのコンテキストに収まりません（このモデルの文章で最大 \g<k> "
        r"バイト）。プロンプトを短くするか n_ctx を上げてください",
    ),
    (r"the prompt is empty", r"プロンプトが空です"),
    (
        r"its chat template failed: did not finish within (?P<s>\S+) s",
        r"its chat template failed: \g<s> 秒以内に終わりませんでした",
    ),
    (
        r"its chat template failed: needed more than (?P<m>\S+ MiB)",
        r"its chat template failed: \g<m> を超えるメモリが必要でした",
    ),
    (
        r"its chat template failed: raised an error without a message",
        r"its chat template failed: メッセージなしのエラーを出しました",
    ),
    (r"its chat template failed: (?P<r>.+)", r"チャットテンプレートの適用に失敗しました: \g<r>"),
    (
        r"at most (?P<n>\d+) (?P<w>strings|tokens), got (?P<m>\d+)",
        r"最大 \g<n> 個までです（受け取った数: \g<m>）",
    ),
    (
        r"a (?:string|token text) of at most (?P<n>\d+) bytes, got (?P<m>\d+) \((?P<v>.*)\)",
        r"1つあたり最大 \g<n> バイトまでです（\g<m> バイト: \g<v>）",
    ),
    (
        r"(?P<n>\d+) runs are already waiting for the model; try again in a while",
        r"すでに \g<n> 件の生成がモデルを待っています。しばらくしてからもう一度試してください",
    ),
    (
        r"the model was unloaded before this run started \(another was loaded\); run again",
        r"この生成が始まる前にモデルが外されました（別のモデルが読み込まれました）。もう一度実行してください",
    ),
    (
        r"--share-limits: unknown limit (?P<n>'[^']*'); known: (?P<k>.+)",
        r"--share-limits: 不明な上限 \g<n>。あるもの: \g<k>",
    ),
    (
        r"--share-limits: (?P<n>\w+) expects a number, got (?P<v>.+)",
        r"--share-limits: \g<n> には数値を指定してください（受け取った値: \g<v>）",
    ),
    (
        r"--auth: expected user:password, or a file with one user:password per line",
        r"--auth: user:password か、1 行に 1 つ user:password を書いたファイルを指定してください",
    ),
    (
        r"--share-limits: (?P<n>\w+) must be above 0 and at most (?P<m>\S+), got (?P<v>.+)",
        r"--share-limits: \g<n> は 0 より大きく \g<m> 以下にしてください（受け取った値: \g<v>）",
    ),
    (r"no column labelled (?P<n>'[^']*'); the columns are: (?P<k>.+)", r"\g<n> という列はありません。列: \g<k>"),
    (r"cannot read it \((?P<r>[^)]*)\)", r"読めません（\g<r>）"),
    (r"no such file", r"そのようなファイルはありません"),
    (
        r"(?P<k>\S+) is (?P<v>.+?); llama\.cpp would abort on it \(expected (?P<e>.+)\)$",
        r"\g<k> が \g<v> です。llama.cpp はこの値で異常終了します（期待される値: \g<e>）",
    ),
    (r"not a usable model path \(it contains a NUL byte\)", r"モデルのパスとして使えません（NUL バイトを含みます）"),
    (
        r"not a usable model path \(too long: a file name holds at most (?P<n>\d+) bytes and a path (?P<p>\d+)\)",
        r"モデルのパスとして使えません（長すぎます。ファイル名は \g<n> バイト、パスは \g<p> バイトまでです）",
    ),
    (r"not valid YAML(?P<rest>.*)", r"YAML として読めません\g<rest>"),
    (r"not valid JSON(?P<rest>.*)", r"JSON として読めません\g<rest>"),
    (
        r"the conversation is at least (?P<n>\d+) tokens but the context holds (?P<m>\d+) per column; (?P<rest>.+)",
        r"会話が少なくとも \g<n> トークンありますが、コンテキストは列ごとに \g<m> トークンです。会話を短くするか、"
        r"コンテキスト方針 drop_oldest か keep_last:N を選んでください",
    ),
    (
        r"the conversation is (?P<n>\d+) tokens but the context holds (?P<m>\d+) per column; (?P<rest>.+)",
        r"会話が \g<n> トークンありますが、コンテキストは列ごとに \g<m> トークンです。会話を短くするか、"
        r"コンテキスト方針 drop_oldest か keep_last:N を選んでください",
    ),
    (
        r"the conversation ends with an? (?P<r>\w+) turn; give a prompt \(the next user message\)",
        r"会話が \g<r> の発言で終わっています。プロンプト（次のユーザーの発言）を指定してください",
    ),
    (
        r"a preset named (?P<n>'[^']*') already exists in (?P<d>\S+); choose overwrite to replace it",
        r"\g<n> という名前のプリセットが \g<d> にすでにあります。置き換えるには上書きを選んでください",
    ),
    (
        r"(?P<n>'[^']*') is the name of a built-in preset; save yours under another name",
        r"\g<n> は組み込みプリセットの名前です。別の名前で保存してください",
    ),
    (
        r"(?P<n>'[^']*') looks the same as the built-in preset (?P<b>'[^']*'); save yours under another name",
        r"\g<n> は組み込みプリセット \g<b> と見分けがつきません。別の名前で保存してください",
    ),
    (
        r"the preset name (?P<n>'.*') contains an invisible formatting character \((?P<c>U\+[0-9A-F]+)\); "
        r"type the name without it",
        r"プリセット名 \g<n> に目に見えない書式文字（\g<c>）が含まれています。その文字を除いて入力してください",
    ),
    (
        r"this shared app already holds (?P<n>\d+) presets, the most it takes; ask its host to remove some",
        r"この共有アプリにはすでにプリセットが \g<n> 個あり、これ以上保存できません。ホストに削除を頼んでください",
    ),
    (
        r"this shared app's presets would take (?P<t>\d+) KiB with this one \((?P<s>\d+) KiB\), above the "
        r"(?P<m>\d+) KiB it takes; ask its host to remove some, or save a smaller preset",
        r"このプリセット（\g<s> KiB）を加えると共有アプリのプリセットが \g<t> KiB になり、上限の \g<m> KiB を超えます。"
        r"ホストに削除を頼むか、小さなプリセットを保存してください",
    ),
    (
        r"this run needs about (?P<t>[\d.]+ [GM]iB) of memory \(KV cache (?P<k>[\d.]+ [GM]iB) for (?P<n>\d+) "
        r"columns x (?P<c>\d+) tokens, compute (?P<p>[\d.]+ [GM]iB), results (?P<r>[\d.]+ [GM]iB)\) but only "
        r"(?P<a>[\d.]+ [GM]iB) is available; lower the columns, max_tokens or n_ctx",
        r"この実行には約 \g<t> のメモリが必要です（KV キャッシュ \g<k>：\g<n> 列 × \g<c> トークン、計算 \g<p>、"
        r"結果 \g<r>）が、使えるのは \g<a> だけです。列数、max_tokens か n_ctx を減らしてください",
    ),
    (
        r"(?P<e>SAMPLERLAB_MEMORY_BUDGET='[^']*'): expected a size such as 512M or 2G",
        r"\g<e>：512M や 2G のような大きさを指定してください",
    ),
    (
        r"you already have a run waiting or running; wait for it or press Stop",
        r"待機中か実行中の生成がすでにあります。終わるのを待つか、停止を押してください",
    ),
    # statistics across seeds (runs.stats)
    (
        r"every column ran on one seed \((?P<s>[^)]*)\); statistics across seeds need at least 2 "
        r"\(run it with seeds: \[0, 1, \.\.\.\], or compare --seeds N\)",
        r"どの列も 1 シード（\g<s>）でしか生成されていません。シードをまたいだ統計には 2 以上が必要です"
        r"（seeds: [0, 1, ...] で実行するか、compare --seeds N を使ってください）",
    ),
    (
        r"column (?P<n>'[^']*') appears twice on prompt (?P<p>\d+), seed (?P<s>-?\d+); labels must tell the columns apart",
        r"列 \g<n> がプロンプト \g<p>・シード \g<s> に 2 回あります。ラベルで列を区別できるようにしてください",
    ),
    (
        r"(?P<n>\d+) generations; statistics read at most (?P<m>\d+)",
        r"生成 \g<n> 件。統計が読めるのは最大 \g<m> 件です",
    ),
    (r"no columns to compare", r"比べる列がありません"),
    (
        r"--baseline (?P<b>'[^']*'): no such column; columns: (?P<c>.+)",
        r"--baseline \g<b>: そのような列はありません。列: \g<c>",
    ),
    # the blind test's votes files (runs/votes.py, runs/blind.py)
    (r"not a samplerlab votes file", r"samplerlab の投票ファイルではありません"),
    (r"missing key (?P<k>'[^']*')", r"キー \g<k> がありません"),
    (r"key (?P<k>'[^']*'): expected (?P<e>.+)", r"キー \g<k>: \g<e> が必要です"),
    (
        r"already exists; load it to continue, or choose another file",
        r"すでにあります。続けるには読み込むか、別のファイルを選んでください",
    ),
    (r"a blind test needs 2 to 6 contenders, got (?P<n>\d+)", r"ブラインドテストには候補が2〜6個必要です（\g<n> 個）"),
    (r"every server of the pool failed; the last: ", r"プールのサーバーがすべて失敗しました。最後の失敗: "),
    (
        r"no server of the pool could take the run; the first: ",
        r"プールのどのサーバーも生成を引き受けられませんでした。最初の理由: ",
    ),
    (
        r"(?P<a>\S+) and (?P<b>\S+) tokenize the prompt differently \(another chat template or tokenizer\?\): "
        r"their texts would differ, so they cannot share a run",
        r"\g<a> と \g<b> はプロンプトを別々にトークン化します（チャットテンプレートかトークナイザーが違う？）。"
        r"文章が変わってしまうため、同じ生成には使えません",
    ),
    (
        r"max tokens: expected a whole number, 0 or more \(0: until the context is full\), "
        r"or nothing for the file's own; got (?P<v>.+)",
        r"最大トークン数: 0 以上の整数（0 はコンテキストが埋まるまで）か、空欄（ファイルの値）を指定してください"
        r"（受け取った値: \g<v>）",
    ),
    (
        r"(?P<f>\S+) has no chat template; use raw completion mode",
        r"\g<f> にはチャットテンプレートがありません。raw モードを使ってください",
    ),
    (
        r"the server's model has no chat template; use raw mode",
        r"サーバーのモデルにはチャットテンプレートがありません。raw モードを使ってください",
    ),
    (
        r"bench-servers: give at least two servers \(--server URL twice\) to measure the speedup",
        r"bench-servers: 速度の比を測るにはサーバーを 2 つ以上指定してください（--server URL を 2 回）",
    ),
    (
        r"bench: --settings and --seeds go together \(--settings 4 --seeds 16 is a sweep of 64 columns\)",
        r"bench: --settings と --seeds は一緒に指定してください（--settings 4 --seeds 16 で 64 列のスイープ）",
    ),
    (
        r"bench: give --columns, or --settings with --seeds, not both",
        r"bench: --columns か、--settings と --seeds のどちらか一方を指定してください（両方は不可）",
    ),
    (
        r"bench: --settings (?P<s>\d+) x --seeds (?P<k>\d+) is (?P<n>\d+) columns; at most 256",
        r"bench: --settings \g<s> x --seeds \g<k> は \g<n> 列です。最大 256 列まで",
    ),
    (
        r"bench: (?P<n>\d+) columns are not (?P<s>\d+) settings x a whole number of seeds",
        r"bench: \g<n> 列は \g<s> 個の設定 x 整数個のシードに分けられません",
    ),
)
from .app_errors_ja import APP_PATTERNS  # noqa: E402 - the app's status notes, kept apart
from .cli_errors_ja import CLI_PATTERNS  # noqa: E402 - the CLI's, click's and the notes', kept apart
from .experiment_errors_ja import EXPERIMENT_PATTERNS  # noqa: E402 - an experiment file's, kept apart
from .history_errors_ja import HISTORY_PATTERNS  # noqa: E402 - the run store's, kept apart
from .result_errors_ja import RESULT_FIRST, RESULT_PATTERNS  # noqa: E402 - a result file's, kept apart

PATTERNS = (
    RESULT_FIRST + PATTERNS + HISTORY_PATTERNS + CLI_PATTERNS + RESULT_PATTERNS + APP_PATTERNS + EXPERIMENT_PATTERNS
)
PATTERNS += ((r"\bline (?P<n>\d+):", r"\g<n> 行目:"),)  # where in a file, whatever the problem (last: any shape)
COMPILED = tuple((re.compile(pattern), wording) for pattern, wording in PATTERNS)


def localize(message: str, lang: str) -> str:
    """``message`` in ``lang``: every known shape in it translated, names and values kept."""
    if lang != "ja":
        return message
    for pattern, wording in COMPILED:
        message = pattern.sub(wording, message)
    return message

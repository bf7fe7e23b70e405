"""Japanese for the app's status notes and the one-line errors its tabs show after an action (saving or
uploading a preset, running or saving an experiment, a shared app's limits); appended to
``errors_ja.PATTERNS``. Names, files and numbers are kept as the English message has them."""

from __future__ import annotations

APP_PATTERNS: tuple[tuple[str, str], ...] = (
    # the Experiments tab
    (r"(?P<f>\S+): stopped before it started", r"\g<f>: 始まる前に停止しました"),
    (
        r"(?P<f>\S+): stopped after (?P<a>\d+) of (?P<b>\d+) columns; no result file is written "
        r"\(a stopped run does not reproduce\)",
        r"\g<f>: \g<b> 列中 \g<a> 列で停止しました。結果ファイルは書き出しません（途中で止めた実行は再現できないため）",
    ),
    (r"unknown experiment (?P<n>'[^']*')", r"不明な実験 \g<n>"),
    (r"while shared, experiments run on the embedded model only", r"共有中の実験は組み込みモデルでのみ実行できます"),
    (
        r"(?P<f>\S+): already exists; results are never overwritten \(choose another --out\)",
        r"\g<f> はすでにあります。結果は上書きしません（別の名前か --out を選んでください）",
    ),
    (r"nothing to save: run a comparison first", r"保存するものがありません。先に比較を実行してください"),
    (
        r"column (?P<c>'[^']*') was stopped before its end, so the comparison would not reproduce; "
        r"run it to the end to save it",
        r"列 \g<c> は最後まで生成する前に止められたため、この比較は再現できません。保存するには最後まで実行してください",
    ),
    # a shared app's limits
    (r"saving presets is off while the app is shared", r"共有中はプリセットを保存できません"),
    (
        r"overwriting presets is off while the app is shared; save under a new name",
        r"共有中はプリセットを上書きできません。新しい名前で保存してください",
    ),
    (
        r"max[_ ]tokens 0 runs at most (?P<n>\d+) tokens per column while the app is shared",
        r"共有中の最大トークン数 0 は、列ごとに最大 \g<n> トークンまでの生成になります",
    ),
    (
        r"stopped after (?P<s>\S+) s, this shared app's limit per run",
        r"この共有アプリの1回あたりの上限（\g<s> 秒）で停止しました",
    ),
    (
        r"the file's load settings are ignored while the app is shared: it runs with the app's",
        r"共有中はファイルの読み込み設定を使わず、アプリの設定で実行します",
    ),
    # preset names and files (presets.store)
    (r"the preset name is empty", r"プリセット名が空です"),
    (
        r"the preset name is (?P<n>\d+) characters long; the limit is (?P<m>\d+)",
        r"プリセット名が \g<n> 文字あります。上限は \g<m> 文字です",
    ),
    (
        r"the preset name (?P<n>'.*') contains a control character \((?P<c>U\+[0-9A-F]+)\)",
        r"プリセット名 \g<n> に制御文字（\g<c>）が含まれています",
    ),
    (
        r"the preset name (?P<n>'.*') looks like a path; use a plain name without / or \\",
        r"プリセット名 \g<n> はパスのように見えます。/ や \\ を含まない名前にしてください",
    ),
    (
        r"the preset name (?P<n>'.*') needs at least one letter or digit",
        r"プリセット名 \g<n> には文字か数字が少なくとも1つ必要です",
    ),
    (
        r"the preset name (?P<n>'.*') is reserved by Windows; choose another name",
        r"プリセット名 \g<n> は Windows で予約されています。別の名前にしてください",
    ),
    (
        r"the name (?P<n>'.*') would use the file (?P<f>\S+), which holds preset (?P<h>'.*'); choose another name",
        r"名前 \g<n> はファイル \g<f> を使いますが、そこにはプリセット \g<h> があります。別の名前にしてください",
    ),
    (
        r"(?P<f>\S+) exists but is not a valid preset; choose overwrite to replace it",
        r"\g<f> はありますが、正しいプリセットではありません。置き換えるには上書きを選んでください",
    ),
    (r"unknown key (?P<k>'[^']*') \(did you mean (?P<m>'[^']*')\?\)", r"不明なキー \g<k>（\g<m> のことですか？）"),
    (
        r"unknown key 'settings'; in a preset the knobs go at the top level \(temperature: 0\.7\), not under settings:",
        r"不明なキー 'settings'。プリセットでは設定を settings: の下ではなく最上位に書きます（temperature: 0.7）",
    ),
    (r"unknown key (?P<k>'[^']*')", r"不明なキー \g<k>"),
    (r"missing name; add 'name: my preset'", r"name がありません。「name: my preset」のように追加してください"),
    (r"(?P<k>\w+): expected text, got (?P<v>.+)", r"\g<k>: テキストを指定してください（受け取った値: \g<v>）"),
    (
        r"the file is empty; expected name, schema_version and settings",
        r"ファイルが空です。name、schema_version と設定を書いてください",
    ),
    (
        r"the file is larger than (?P<n>\d+) KiB; a preset is a few lines",
        r"ファイルが \g<n> KiB を超えています。プリセットは数行のはずです",
    ),
    (
        r"could not determine a constructor for the tag '(?P<t>[^']*)'; presets hold plain values only",
        r"タグ '\g<t>' は使えません。プリセットに書けるのは普通の値だけです",
    ),
    (
        r"neither JSON nor YAML; cannot tell which tool wrote it",
        r"JSON でも YAML でもないため、どのツールのファイルか分かりません",
    ),
    (
        r"upload: expected a preset file of at most (?P<n>\d+) KiB",
        r"アップロード: \g<n> KiB 以下のプリセットファイルを選んでください",
    ),
)

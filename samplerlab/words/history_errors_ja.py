"""Japanese for the run store's and --resume's one-line errors (appended to ``errors_ja.PATTERNS``)."""

from __future__ import annotations

HISTORY_PATTERNS: tuple[tuple[str, str], ...] = (
    (
        r"not a samplerlab run store \(not an SQLite database\); move it away or set SAMPLERLAB_STORE",
        r"samplerlab の実行記録ではありません（SQLite データベースではない）。別の場所へ移すか SAMPLERLAB_STORE を設定してください",
    ),
    (
        r"written by a newer samplerlab \(store schema (?P<n>\d+), this one reads (?P<m>\d+)\); "
        r"upgrade samplerlab or set SAMPLERLAB_STORE to another file",
        r"新しい samplerlab が書いた実行記録です（形式 \g<n>、この版が読めるのは \g<m>）。"
        r"samplerlab を更新するか SAMPLERLAB_STORE で別のファイルを指定してください",
    ),
    (r"cannot open the run store \(is its folder writable\?\)", r"実行記録を開けません（フォルダに書き込めますか？）"),
    (r"the run store is read-only", r"実行記録は読み取り専用です"),
    (r"the disk is full; the run store cannot grow", r"ディスクがいっぱいで実行記録を増やせません"),
    (
        r"a file, not a folder; the run store cannot be made in it",
        r"フォルダではなくファイルです。そこに実行記録は作れません",
    ),
    (r"this run goes on without being recorded", r"この実行は記録されずに続きます"),
    (r"this run is not recorded \(it cannot be resumed\)", r"この実行は記録されません（再開できません）"),
    (r"no run (?P<n>\d+) \(see samplerlab history\)", r"実行 \g<n> はありません（samplerlab history を参照）"),
    (r"no run (?P<n>\d+) in this session's history", r"このセッションの履歴に実行 \g<n> はありません"),
    (
        r"no unfinished run of it in the run store \((?P<p>[^)]*)\); run it without --resume",
        r"実行記録（\g<p>）に未完了の実行がありません。--resume なしで実行してください",
    ),
    (r"run (?P<n>\d+) has finished; its result is (?P<r>.+)", r"実行 \g<n> は完了しています。結果: \g<r>"),
    (
        r"run (?P<n>\d+) is still running \(process (?P<p>\d+)\); stop it first, or wait",
        r"実行 \g<n> はまだ動いています（プロセス \g<p>）。先に止めるか、終わるのを待ってください",
    ),
    (
        r"run (?P<n>\d+) cannot go on here: (?P<w>.+); run it afresh instead",
        r"実行 \g<n> はここでは続けられません: \g<w>。最初から実行し直してください",
    ),
)

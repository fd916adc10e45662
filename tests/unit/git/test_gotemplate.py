"""Go ``text/template`` semantics and Sprig functions, case by case, over plain data.

Expected outputs are what Go (1.23) and Sprig v3 print for the same template and data.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from image_automation.git._gotemplate_builtins import (
    MAX_ALLOCATED,
    MAX_ITEMS,
    MAX_OUTPUT,
    MAX_STRING,
)
from image_automation.git._gotemplate_exec import MAX_STEPS
from image_automation.git._gotemplate_values import MAX_ELEMENTS
from image_automation.git.flux_messages import FluxTemplateError, parse_template

DATA: dict[str, Any] = {
    "S": "str",
    "N": 3,
    "F": 1.5,
    "L": ["a", "b"],
    "M": {"b": 2, "a": 1},
    "E": "",
    "Z": 0,
    "T": True,
    "Nil": None,
    "Empty": [],
    "EmptyMap": {},
    "LM": [{"K": "first"}, {"K": "second"}],
    "Tags": ["v1.2.0", "v1.10.0", "v1.2.0"],
}


def render(template: str, data: Any = None) -> str:
    return parse_template(template).render_data(DATA if data is None else data)[0]


GO_CASES = [
    # text, trim markers, comments
    ("a  {{- 1 -}}  b", "a1b"),
    ("{{-3}}", "-3"),
    ("{{ 3 -}}\n\t x", "3x"),
    ("a\n{{- /* a comment\nover lines */ -}}\nb", "ab"),
    ("a{{/* c */}}b", "ab"),
    ("{{ `raw\\n` }}{{ \"tab\\tq\\\"\" }}", 'raw\\ntab\tq"'),
    ("{{ 0x1F }} {{ 1e3 }} {{ 'a' }} {{ 1.5 }} {{ -2 }} {{ 1_000 }}", "31 1000 97 1.5 -2 1000"),
    # pipelines: the piped value is the last argument
    ('{{ "a:b" | replace ":" "/" }}', "a/b"),
    ('{{ .S | printf "%s-%s" "x" }}', "x-str"),
    ('{{ printf "%d" (len .L) }}', "2"),
    ("{{ .L | len | printf \"%03d\" }}", "002"),
    # variables and scopes
    ('{{ $x := "v" }}{{ $x }}', "v"),
    ("{{ $n := 0 }}{{ range .L }}{{ $n = add $n 1 }}{{ end }}{{ $n }}", "2"),
    ("{{ range .L }}{{ $.S }}{{ end }}", "strstr"),
    ("{{ $m := .M }}{{ $m.a }}{{ $.M.b }}", "12"),
    ("{{ (index .LM 1).K }}", "second"),
    ("{{ with $x := .S }}{{ $x }}{{ . }}{{ end }}", "strstr"),
    # range
    ("{{ range .L }}[{{ . }}]{{ end }}", "[a][b]"),
    ("{{ range $i, $v := .L }}{{ $i }}={{ $v }} {{ end }}", "0=a 1=b "),
    ("{{ range $k, $v := .M }}{{ $k }}={{ $v }};{{ end }}", "a=1;b=2;"),
    ("{{ range $v := .M }}{{ $v }}{{ end }}", "12"),
    ("{{ range .Empty }}x{{ else }}none{{ end }}", "none"),
    ("{{ range .EmptyMap }}x{{ else }}none{{ end }}", "none"),
    ("{{ range .M.missing }}x{{ else }}none{{ end }}", "none"),
    ("{{ range 3 }}{{ . }}{{ end }}", "012"),
    ("{{ range .L }}{{ if eq . \"a\" }}{{ continue }}{{ end }}{{ . }}{{ end }}", "b"),
    ("{{ range .L }}{{ if eq . \"b\" }}{{ break }}{{ end }}{{ . }}{{ end }}", "a"),
    ("{{ range $i, $_ := .L }}{{ range $.L }}{{ $i }}{{ . }}{{ end }} {{ end }}", "0a0b 1a1b "),
    ("{{ range .L }}{{ range $.Empty }}{{ else }}{{ break }}{{ end }}{{ . }}{{ end }}", "ab"),
    ("{{ range .L }}{{ range $.Empty }}{{ else }}{{ continue }}{{ end }}{{ . }}{{ end }}", ""),
    ('{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}', "21"),
    ('{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}', "2"),
    ('{{ if $v := .E }}{{ else }}[{{ $v }}]{{ end }}', "[]"),
    # if / with / else
    ("{{ if .T }}y{{ else }}n{{ end }}", "y"),
    ("{{ if .E }}a{{ else if .Z }}b{{ else if .S }}c{{ else }}d{{ end }}", "c"),
    ("{{ with .S }}{{ . }}{{ end }}", "str"),
    ("{{ with .E }}x{{ else }}empty{{ end }}", "empty"),
    ("{{ with .E }}a{{ else with .S }}{{ . }}{{ end }}", "str"),
    # Go's truth: false, 0, nil, empty string/slice/map are false
    (
        "{{ range $k, $v := . }}{{ if $v }}{{ $k }} {{ end }}{{ end }}",
        "F L LM M N S T Tags ",
    ),
    ("{{ if \"0\" }}y{{ end }}{{ if \" \" }}y{{ end }}{{ if list 0 }}y{{ end }}", "yyy"),
    # and / or return one of their arguments and stop early
    ("{{ and 1 0 2 }}|{{ and 1 2 }}|{{ or 0 \"\" \"x\" }}|{{ or 0 \"\" }}|", "0|2|x||"),
    ('{{ or 1 (fail "boom") }}{{ and 0 (fail "boom") }}', "10"),
    ("{{ .T | and 1 }}", "true"),
    ("{{ not .E }} {{ not .S }}", "true false"),
    # len, index, slice
    ('{{ len "é" }} {{ len .L }} {{ len .M }}', "2 2 2"),
    ('{{ index .L 1 }}{{ index .M "b" }}{{ index .LM 0 "K" }}', "b2first"),
    ('{{ index .M "nope" }}', "<nil>"),
    ('{{ slice .L 1 }} {{ slice "abcd" 1 3 }} {{ slice .L 0 0 }}', "[b] bc []"),
    # printing
    ('{{ print 1 2 "a" "b" 3 }}|{{ println 1 "a" }}|', "1 2ab3|1 a\n|"),
    ("{{ .M.nope }} {{ .M.nope.deeper }} {{ .Nil }}", "<no value> <no value> <nil>"),
    ("{{ .M }} {{ .L }} {{ .F }} {{ .T }}", "map[a:1 b:2] [a b] 1.5 true"),
    ('{{ printf "%s|%d|%v|%q|%t|%%" "s" 4 .L "q" false }}', 's|4|[a b]|"q"|false|%'),
    ('{{ printf "%5s|%-5s|%05d|%.2s|%x|%6.2f|%+d" "ab" "cd" 42 "xyz" 255 3.14159 5 }}',
     "   ab|cd   |00042|xy|ff|  3.14|+5"),
    ('{{ printf "%d %s" }}|{{ printf "%d" "x" }}|{{ printf "%s" "a" 2 }}',
     "%!d(MISSING) %!s(MISSING)|%!d(string=x)|a%!(EXTRA int=2)"),
    ('{{ printf "%q" "a\\"b\\n" }}', '"a\\"b\\n"'),
    # comparisons
    ('{{ eq 1 1 }} {{ eq "a" "b" "a" }} {{ ne 1 2 }} {{ eq .M.nope "x" }}', "true true true false"),
    ('{{ lt 1 2 }} {{ le 2 2 }} {{ gt "b" "a" }} {{ ge 1 2 }}', "true true true false"),
    # escapers
    ("{{ html \"<a href='x'>&\" }}", "&lt;a href=&#39;x&#39;&gt;&amp;"),
    ('{{ js "a\'b\\"<=" }}', "a\\'b\\\"\\u003C\\u003D"),
    ('{{ urlquery "a b&c/é" }}', "a+b%26c%2F%C3%A9"),
]  # fmt: skip


@pytest.mark.parametrize(("template", "expected"), GO_CASES)
def test_go_template_semantics(template: str, expected: str) -> None:
    assert render(template) == expected


SPRIG_CASES = [
    ('{{ "  x  " | trim }}|{{ trimPrefix "v" "v1.2" }}|{{ trimSuffix ".0" "1.0" }}|'
     '{{ trimAll "-" "--a--" }}', "x|1.2|1|a"),
    ('{{ upper "aB" }}{{ lower "aB" }} {{ title "hello wor-ld_x" }}', "ABab Hello Wor-Ld_x"),
    ('{{ contains "b" "abc" }} {{ hasPrefix "a" "abc" }} {{ hasSuffix "a" "abc" }}',
     "true true false"),
    ('{{ .L | join ", " }}|{{ list 1 nil "x" | join "-" }}|{{ join "," "solo" }}', "a, b|1-x|solo"),
    ('{{ (split ":" "a:b")._1 }} {{ splitList "," "a,b,c" | last }} {{ splitList "," "a,b" }}',
     "b c [a b]"),
    ('{{ default "d" .E }} {{ default "d" .S }} {{ .M.nope | default "d" }} {{ default 5 0 }}',
     "d str d 5"),
    ('{{ quote "a\\"b" 1 }} {{ squote "x" }} {{ cat "a" nil 2 }}', '"a\\"b" "1" \'x\' a 2'),
    ('{{ "a\\nb" | indent 2 }}|{{ nindent 1 "z" }}', "  a\n  b|\n z"),
    ('{{ trunc 3 "abcdef" }} {{ trunc -2 "abcdef" }} {{ trunc 10 "ab" }}', "abc ef ab"),
    ('{{ substr 1 3 "abcdef" }} {{ substr -1 2 "abcdef" }} {{ substr 2 99 "abcdef" }}',
     "bc ab cdef"),
    ('{{ list 1 "a" 2.5 }} {{ dict "b" 2 "a" 1 }} {{ (dict "k" "v").k }} {{ dict "odd" }}',
     "[1 a 2.5] map[a:1 b:2] v map[odd:]"),
    ("{{ first .L }} {{ last .L }} {{ first .Empty }} {{ rest .L }} {{ initial .L }}",
     "a b <nil> [b] [a]"),
    ("{{ .Tags | uniq }} {{ .Tags | sortAlpha }} {{ .Tags | sortAlpha | uniq | reverse }}",
     "[v1.2.0 v1.10.0] [v1.10.0 v1.2.0 v1.2.0] [v1.2.0 v1.10.0]"),
    ('{{ toString 5 }} {{ toString .L }} {{ repeat 3 "ab" }} {{ repeat 0 "x" }}|',
     "5 [a b] ababab |"),
    ('{{ regexReplaceAll "v([0-9]+)" "v12-v3" "<${1}>" }} {{ regexReplaceAll "x*" "abxd" "-" }}',
     "<12>-<3> -a-b-d-"),
    ('{{ regexReplaceAllLiteral "(a)" "aa" "$1" }} {{ regexMatch "^v[0-9]" "v1" }} '
     '{{ regexFind "[0-9]+" "ab12c3" }} {{ regexFindAll "[0-9]" "a1b2c3" 2 }} '
     '{{ regexSplit "-" "a-b-c" -1 }}', "$1$1 true 12 [1 2] [a b c]"),
    ('{{ ternary "y" "n" true }} {{ false | ternary "y" "n" }} {{ empty "" }} {{ empty .L }} '
     '{{ coalesce .E .Z "c" }} {{ coalesce .E }}', "y n true false c <nil>"),
    ("{{ add 1 2 3 }} {{ sub 5 7 }} {{ mul 2 3 4 }} {{ div 7 2 }} {{ div -7 2 }} {{ mod -7 2 }} "
     "{{ max 1 9 3 }} {{ min 4 2 }} {{ add1 1 }} {{ add \"4\" 1 }} {{ add 9223372036854775807 1 }}",
     "6 -2 24 3 -3 -1 9 2 2 5 -9223372036854775808"),
    ('{{ sha256sum "abc" | trunc 8 }} {{ sha1sum "abc" | trunc 8 }} {{ b64enc "hi" }} '
     '{{ b64dec "aGk=" }} {{ adler32sum "abc" }}', "ba7816bf a9993e36 aGk= hi 38600999"),
    ('{{ base "a/b.tar.gz" }} {{ dir "a/b/c" }} {{ ext "a/b.tar.gz" }} {{ clean "a//b/../c" }}',
     "b.tar.gz a/b .gz a/c"),
    ('{{ has "a" .L }} {{ without .L "a" }} {{ append .L "c" }} {{ prepend .L "z" }} '
     '{{ concat .L .L }} {{ compact (list "" 1 0 "x") }} {{ until 3 }}',
     "true [b] [a b c] [z a b] [a b a b] [1 x] [0 1 2]"),
    ('{{ keys .M }} {{ hasKey .M "a" }} {{ get .M "b" }} {{ get .M "nope" }}|',
     "[a b] true 2 |"),
    ('{{ atoi "42" }} {{ atoi "x" }} {{ int "7" }} {{ nospace " a b " }} '
     '{{ toStrings (list 1 2) }}',
     "42 0 7 ab [1 2]"),
]  # fmt: skip


@pytest.mark.parametrize(("template", "expected"), SPRIG_CASES)
def test_sprig_functions(template: str, expected: str) -> None:
    assert render(template) == expected


ERROR_CASES = [
    # parse time
    ("{{ .S", "unclosed action"),
    ('{{ "abc }}', "unterminated quoted string"),
    ("{{ 1x }}", "bad number syntax"),
    ("{{ end }}", "unexpected {{end}}"),
    ("{{ else }}", "unexpected {{else}}"),
    ("{{ if .T }}{{ else }}{{ else }}{{ end }}", "expected end; found {{else}}"),
    ("{{ break }}", "{{break}} outside {{range}}"),
    ('{{ .S | "x" }}', "non executable command in pipeline stage 2"),
    ("{{ nil }}", "nil is not a command"),
    ("{{ $y }}", "undefined variable '$y'"),
    ("{{ if .T }}{{ $y := 1 }}{{ end }}{{ $y }}", "undefined variable '$y'"),
    ("{{ (1 }}", "unclosed left paren"),
    ("{{ 1) }}", "unexpected right paren"),
    ("{{ }}", "missing value for command"),
    ("{{ .S | }}", "missing command after |"),
    ('{{ "s".X }}', 'unexpected . after term "s"'),
    ("{{/* open", "unclosed comment"),
    ("{{/* c */ x}}", "comment ends before closing delimiter"),
    ("{{ # }}", "unrecognized character in action: '#'"),
    ('{{ template "x" }}', "{{template}} is not supported"),
    # run time
    ("{{ upper }}", "wrong number of args for upper: want 1 got 0"),
    ("{{ upper .N }}", "wrong type for value; expected string; got int"),
    ('{{ trunc "x" "y" }}', 'expected integer; found "x"'),
    ("{{ ternary 1 2 \"yes\" }}", 'expected bool; found "yes"'),
    ("{{ upper true }}", "expected string; found true"),
    ("{{ upper .M.nope }}", "invalid value; expected string"),
    ("{{ .S.X }}", "can't evaluate field X in type string"),
    ("{{ .Nil.X }}", "nil pointer evaluating interface {}.X"),
    ('{{ .S "arg" }}', ".S has arguments but is not a function"),
    ("{{ 1 2 }}", "can't give argument to non-function 1"),
    ("{{ index .L 5 }}", "error calling index: index out of range: 5"),
    ("{{ div 1 0 }}", "error calling div: runtime error: integer divide by zero"),
    ("{{ eq 1 \"1\" }}", "error calling eq: incompatible types for comparison"),
    ("{{ eq .L .L }}", "error calling eq: non-comparable type"),
    ("{{ lt true false }}", "error calling lt: invalid type for comparison"),
    ("{{ range .S }}{{ end }}", "range can't iterate over str"),
    ("{{ range $i, $v := 3 }}{{ end }}", "can't use 3 to iterate over more than one variable"),
    ('{{ regexMatch "(" "x" }}', "error calling regexMatch: invalid pattern '('"),
    ('{{ fail "stop here" }}', "error calling fail: stop here"),
    ("{{ first .S }}", "error calling first: cannot use first on type string"),
]  # fmt: skip


@pytest.mark.parametrize(("template", "message"), ERROR_CASES)
def test_go_template_errors_are_clear(template: str, message: str) -> None:
    with pytest.raises(FluxTemplateError) as caught:
        render(template)
    assert message in caught.value.message
    assert caught.value.message.startswith("commit message template, line 1, column ")


def test_an_error_deep_in_a_template_points_at_its_line_and_column() -> None:
    template = "line one\n{{ range .L }}\n  {{ $.S }} {{ upper $.N }}\n{{ end }}"
    with pytest.raises(FluxTemplateError) as caught:
        render(template)
    assert (caught.value.line, caught.value.column) == (3, 22)
    assert "expected string; got int" in caught.value.message


HOSTILE_CASES = [
    ("{{ if 1 }}" * 200 + "{{ end }}" * 200, "nested more than 100 levels deep"),
    ("{{ " + "(" * 200 + "1" + ")" * 200 + " }}", "nested more than 100 levels deep"),
    ('{{ range until 100000 }}{{ repeat 100 "x" }}{{ end }}', f"output larger than {MAX_OUTPUT}"),
    ("{{ range until 100000 }}{{ range until 100000 }}{{ end }}{{ end }}",
     f"more than {MAX_STEPS} steps"),
    ("{{ range 1000000000 }}{{ end }}", f"more than {MAX_STEPS} steps"),
    ('{{ repeat 1000000000000 "abc" }}', f"result longer than {MAX_STRING}"),
    ('{{ replace "" (repeat 3000 "x") (repeat 3000 "a") }}', f"result longer than {MAX_STRING}"),
    ('{{ indent 1000000000 "a\\nb" }}', f"result longer than {MAX_STRING}"),
    ('{{ printf "%999999999d" 1 }}', f"printf width or precision larger than {MAX_STRING}"),
    ('{{ regexReplaceAll "" (repeat 100000 "ab") (repeat 5000 "y") }}',
     f"result longer than {MAX_STRING}"),
    ("{{ $l := list 1 }}{{ range until 30 }}{{ $l = concat $l $l }}{{ end }}",
     f"more than {MAX_ITEMS}"),
    ("{{ $l := list 1 2 }}{{ range until 40 }}{{ $l = list $l $l }}{{ end }}{{ $l }}",
     f"value too large to print (more than {MAX_ELEMENTS} elements)"),
    ("{{ $l := list 1 2 }}{{ range until 40 }}{{ $l = list $l $l }}{{ end }}{{ toString $l }}",
     f"value too large to print (more than {MAX_ELEMENTS} elements)"),
    ('{{ $s := repeat 1000 "x" }}{{ $l := list $s $s $s $s }}{{ range until 12 }}'
     "{{ $l = list $l $l }}{{ end }}{{ $l }}", f"output larger than {MAX_OUTPUT}"),
    ('{{ $l := list }}{{ range until 20 }}{{ $l = append $l (repeat 4000000 "x") }}{{ end }}',
     f"function results add up to more than {MAX_ALLOCATED}"),
    ("{{ until 1000000 }}", f"more than {MAX_ITEMS} items"),
    ('{{ splitList "" (repeat 200000 "x") }}', f"more than {MAX_ITEMS} parts"),
]  # fmt: skip


@pytest.mark.parametrize(("template", "message"), HOSTILE_CASES)
def test_hostile_templates_are_refused_with_a_clear_error(template: str, message: str) -> None:
    with pytest.raises(FluxTemplateError) as caught:
        render(template)
    assert message in caught.value.message


def test_re2_keeps_a_pathological_pattern_linear() -> None:
    # (a*)*b backtracks exponentially in a backtracking engine; RE2 answers in one pass.
    template = '{{ regexReplaceAll "(a*)*b" (repeat 50000 "a") "x" | len }}'
    assert render(template) == "50000"


def test_a_parsed_template_renders_again_with_the_same_result() -> None:
    parsed = parse_template("{{ $n := 0 }}{{ range .L }}{{ $n = add $n 1 }}{{ end }}{{ $n }}")
    assert parsed.render_data(DATA) == parsed.render_data(DATA) == ("2", [])


def test_hostile_templates_are_refused_without_exhausting_memory() -> None:
    """All of the hostile table in a fresh interpreter: every case refused, peak RSS bounded
    (a generous bound: the caps allow about 70 MB of live values)."""
    script = (
        "import json, sys\n"
        "from image_automation.git.flux_messages import FluxTemplateError, parse_template\n"
        "refused = 0\n"
        "for template in json.loads(sys.stdin.read()):\n"
        "    try:\n"
        "        parse_template(template).render_data({})\n"
        "    except FluxTemplateError:\n"
        "        refused += 1\n"
        # VmHWM, not ru_maxrss: Linux carries the high-water mark of the process this one
        # was forked from (pytest, 100 MB and more late in a run) over exec into ru_maxrss.
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]\n"
        "print(refused, hwm.split()[1])\n"
    )
    cases = json.dumps([template for template, _ in HOSTILE_CASES])
    done = subprocess.run(
        [sys.executable, "-c", script], input=cases, capture_output=True, text=True, check=True
    )
    refused, peak_kib = map(int, done.stdout.split())
    assert refused == len(HOSTILE_CASES)
    assert peak_kib < 400 * 1024

#!/bin/sh
# The widget as the module serves it: src/widget/w.js without its comment
# lines, blank lines and indentation (the code itself untouched: a line is
# dropped only when it is all comment), so the comments can say why
# without costing the pages that load it.
# Usage: sh src/minify.sh FILE > OUT
set -e
awk '
    incomment { if (index($0, "*/")) incomment = 0; next }
    { sub(/^[ \t]+/, "") }
    /^\/\*/ { if (!index($0, "*/")) incomment = 1; next }
    /^$/ { next }
    { print }
' "$1"

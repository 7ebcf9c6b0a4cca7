#!/bin/sh
# tidy-man-pages.sh PAGE...: makes the pages swift-argument-parser's generate-manual writes well-formed for man-db
# and lintian, in place (`make install-docs` runs it):
# - a blank line inside an mdoc page is an error for groff ("Empty input line"): it becomes .Pp, the paragraph break
#   it was meant as;
# - a subcommand page (heidictl.journal.verify.1) is named "heidictl journal verify" in its NAME section, which
#   mandb's lexgrog cannot parse (no whatis entry, so `apropos` and `man -k` never find it): its NAME becomes the
#   page's own name, heidictl.journal.verify, and the synopsis keeps the command as typed.
set -eu
for page in "$@"; do
    [ -e "$page" ] || continue
    name=$(sed -n 's/^\.Nm "\(.*\)"$/\1/p' "$page" | head -n 1)
    case $name in
    *" "*)
        dotted=$(printf '%s' "$name" | tr ' ' .)
        sed -i -e "/^\.Sh NAME\$/,/^\.Sh /s/^\.Nm \"$name\"\$/.Nm $dotted/" \
            -e "s/^\.Nm\$/.Nm \"$name\"/" -e 's/^$/.Pp/' "$page"
        ;;
    *) sed -i 's/^$/.Pp/' "$page" ;;
    esac
done

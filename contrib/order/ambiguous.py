"""Symbol names lld cannot place one by one: lld's --symbol-ordering-file names symbols, and a name that several
object files define as a local symbol (a merged `...Tm` thunk, an outlined copy, a static helper of glibc) moves every
section that defines it. Ordering by such a name pulled the whole of sections like _RegexParser.o (476 KiB),
_StringProcessing.o and FoundationEssentials' JSONDecoder into heidictl's hot region because one small copy ran:
that region grew from 2.6 to 4.0 MB and a `heidictl status` took 6 more page faults."""
import collections
import subprocess


def ambiguous_names(binary):
    """The names BINARY defines more than once."""
    counts = collections.Counter(
        fields[-1]
        for fields in (line.split() for line in subprocess.run(
            ["nm", "--defined-only", binary], capture_output=True, text=True, check=True).stdout.splitlines())
        if len(fields) >= 3)
    return {name for name, count in counts.items() if count > 1}

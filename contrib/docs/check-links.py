#!/usr/bin/env python3
"""Fails on any relative link in the repository's Markdown files that does not resolve: the file (or directory) must
exist, and a #fragment must name a heading of the target Markdown file (GitHub's anchors) or, for other files, is not
checked. Absolute URLs (http:, https:, mailto:) are not fetched. Usage: check-links.py [ROOT]; exit 1 with one line per
broken link (file:line: link: reason), 0 when every link resolves."""
import os
import re
import subprocess
import sys
import unicodedata

LINK = re.compile(r"(?<!\\)\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
ANCHOR_TAG = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")


def markdown_files(root):
    listed = subprocess.run(["git", "-C", root, "ls-files", "--cached", "--others", "--exclude-standard", "*.md"],
                            capture_output=True, text=True)
    if listed.returncode == 0:
        return sorted(path for path in listed.stdout.splitlines() if os.path.exists(os.path.join(root, path)))
    found = []
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = [d for d in subdirectories if not d.startswith(".")]
        found += [os.path.relpath(os.path.join(directory, f), root) for f in files if f.endswith(".md")]
    return sorted(found)


def prose_lines(text):
    """(line number, line, line with inline code spans blanked out) outside fenced code blocks."""
    fence = None
    for number, line in enumerate(text.split("\n"), 1):
        stripped = line.lstrip()
        marker = re.match(r"(`{3,}|~{3,})", stripped)
        if marker:
            if fence is None:
                fence = marker.group(1)[0] * len(marker.group(1))
                continue
            if stripped.startswith(fence):
                fence = None
                continue
        if fence is not None:
            continue
        yield number, line, re.sub(r"(`+)(.+?)\1", lambda m: " " * len(m.group(0)), line)


def slug(heading):
    """GitHub's anchor for a heading: markup dropped, lower case, punctuation removed, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links keep their text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").replace("*", "").replace("~", "")
    text = text.strip().lower()
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LN" or unicodedata.category(c) == "Mn")
    return kept.replace(" ", "-")


def anchors(path, cache={}):
    if path not in cache:
        seen, result = {}, set()
        with open(path, encoding="utf-8") as file:
            text = file.read()
        for _, line, _ in prose_lines(text):
            result.update(ANCHOR_TAG.findall(line))
            match = HEADING.match(line)
            if not match:
                continue
            base = slug(match.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            result.add(base if count == 0 else f"{base}-{count}")
        cache[path] = result
    return cache[path]


def check(root):
    failures = []
    for relative in markdown_files(root):
        path = os.path.join(root, relative)
        with open(path, encoding="utf-8") as file:
            text = file.read()
        for number, _, line in prose_lines(text):
            targets = LINK.findall(line)
            reference = REFERENCE.match(line)
            if reference:
                targets.append(reference.group(1))
            for target in targets:
                if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
                    continue  # http:, https:, mailto: ...
                file_part, _, fragment = target.partition("#")
                resolved = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
                where = f"{relative}:{number}: {target}"
                if not os.path.exists(resolved):
                    failures.append(f"{where}: no such file {os.path.relpath(resolved, root)}")
                    continue
                if fragment and resolved.endswith(".md") and os.path.isfile(resolved):
                    if fragment not in anchors(resolved):
                        failures.append(f"{where}: {os.path.relpath(resolved, root)} has no heading with anchor #{fragment}")
    return failures


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", ".."))
    failures = check(root)
    for failure in failures:
        print(failure)
    files = len(markdown_files(root))
    if failures:
        print(f"check-links: {len(failures)} broken relative link(s) in {files} Markdown files")
        return 1
    print(f"check-links: every relative link in {files} Markdown files resolves")
    return 0


if __name__ == "__main__":
    sys.exit(main())

from typing import Dict, List


def group_by_length(words: List[str]) -> Dict[int, List[str]]:
    groups: Dict[int, List[str]] = {}
    for word in words:
        groups.setdefault(len(word), []).append(word)
    return groups

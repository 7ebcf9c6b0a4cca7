import sys
from collections import Counter


def count_words(text):
    words = [w.lower().strip(".,!?") for w in text.split()]
    return Counter(w for w in words if w)


if __name__ == "__main__":
    counts = count_words(sys.stdin.read())
    for word, count in counts.most_common(10):
        print(f"{word}: {count}")

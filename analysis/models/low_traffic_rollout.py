#!/usr/bin/env python3
"""A model of whole weighted rollouts at low traffic, judged per step on the access logs.

Poisson arrivals at the step's weight (the rest to the primary), each request an error with
the version's error rate; a step is judged once both versions have `min_requests` in the
window (the window reaches back while they do not: Fledge's NoData hold); the canary fails a
judgement when the error-rate comparison with the primary (Fisher's exact test for small
expected counts, else the continuity-corrected z-test) or, with a limit, the exact binomial
test of its errors against the limit, rejects at (1 - confidence) / (number of tests); the
latency comparison is left out (identical latencies). A pass moves to the next weight (or
promotes at max_weight); `threshold` failures roll back. Used for the table "At low traffic"
in docs/analysis.md:

    python3 analysis/models/low_traffic_rollout.py 3000

Standard library only; seeded. The judgement benchmark on the sandbox mesh should replace it.
"""
import math
import random
import sys


def lchoose(n, k):
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def fisher_greater(e1, n1, e2, n2):
    if e1 == 0:
        return 1.0
    total, events = n1 + n2, e1 + e2
    den = lchoose(total, n1)
    return min(1.0, sum(math.exp(lchoose(events, x) + lchoose(total - events, n1 - x) - den)
                        for x in range(e1, min(events, n1) + 1)))


def z_greater(e1, n1, e2, n2):
    p1, p2, p = e1 / n1, e2 / n2, (e1 + e2) / (n1 + n2)
    se = math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    excess = p1 - p2
    excess = math.copysign(max(abs(excess) - 0.5 * (1 / n1 + 1 / n2), 0), excess)
    if se == 0:
        return 0.0 if excess > 0 else 1.0
    return 0.5 * math.erfc(excess / se / math.sqrt(2))


def comparison(e1, n1, e2, n2):
    total, events = n1 + n2, e1 + e2
    if min(n1, n2) * min(events, total - events) / total < 5:
        return fisher_greater(e1, n1, e2, n2)
    return z_greater(e1, n1, e2, n2)


def binomial_sf(e, n, p):
    if e <= 0:
        return 1.0
    return min(1.0, sum(math.exp(lchoose(n, k) + k * math.log(p) + (n - k) * math.log(1 - p))
                        for k in range(e, n + 1)))


def poisson(lam, rng):
    if lam > 50:
        return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def errors(n, rate, rng):
    return sum(1 for _ in range(n) if rng.random() < rate)


def rollout(canary_rate, primary_rate, rng, rps=20, interval=10, step=10, max_weight=50,
            threshold=2, min_requests=50, confidence=0.95, limit=None):
    weight, failed = step, 0
    cn = ce = pn = pe = 0
    alpha = (1 - confidence) / (2 + (1 if limit else 0))
    while True:
        n1 = poisson(rps * weight / 100 * interval, rng)
        n2 = poisson(rps * (100 - weight) / 100 * interval, rng)
        cn, ce = cn + n1, ce + errors(n1, canary_rate, rng)
        pn, pe = pn + n2, pe + errors(n2, primary_rate, rng)
        if cn < min_requests or pn < min_requests:
            continue
        bad = comparison(ce, cn, pe, pn) <= alpha
        if limit is not None and binomial_sf(ce, cn, limit) <= alpha:
            bad = True
        cn = ce = pn = pe = 0
        if bad:
            failed += 1
            if failed >= threshold:
                return "rolled back"
        elif weight >= max_weight:
            return "promoted"
        else:
            weight = min(weight + step, max_weight)


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    for limit in (None, 0.01):
        for canary in (0.005, 0.05, 0.10):
            rng = random.Random(3)
            outcomes = [rollout(canary, 0.005, rng, limit=limit) for _ in range(runs)]
            promoted = outcomes.count("promoted") / runs
            print(f"maxErrorRate={limit and limit * 100}% canary errors {canary * 100:g}%: "
                  f"promoted {promoted:.2%}, rolled back {1 - promoted:.2%} of {runs}")


if __name__ == "__main__":
    main()

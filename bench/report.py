#!/usr/bin/env python3
"""Markdown tables of bench/run-http.sh results (JSON lines): wxlogin beside the ceiling
measured in the same run, and the database wxlogin ran on. Usage: report.py RESULTS.jsonl [--growth]"""
import json
import sys


def main() -> None:
    rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    if "--growth" in sys.argv:
        print("| users+sessions | scenario | req/s | p50 ms | p99 ms | p99.9 ms | CPU ms/req | RSS MiB | peak RSS MiB | non-2xx |")
        print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            if r["target"] != "wxlogin":
                continue
            print(f"| {r['users']:,} | {r['scenario']} | {r['rps']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
                  f"{r['p999_ms']:.2f} | {r['cpu_ms_per_request']:.3f} | {r['rss_mib']:.1f} | {r['hwm_mib']:.1f} | {r['non_2xx']} |")
        return
    ceiling = {r["scenario"]: r for r in rows if r["target"] == "ceiling"}
    print("| scenario | target | database | requests | req/s | % of ceiling | p50 ms | p99 ms | p99.9 ms | CPU ms/req | sim CPU ms/req | db CPU ms/req | RSS MiB | peak RSS MiB | non-2xx |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        reference = ceiling.get(r["scenario"])
        share = f"{100 * r['rps'] / reference['rps']:.0f} %" if reference and r["target"] != "ceiling" else ""
        # The ceiling touches no database; results from before the field were all SQLite.
        database = r.get("database", "sqlite") if r["target"] != "ceiling" else ""
        print(f"| {r['scenario']} | {r['target']} | {database} | {r['requests']:,} | {r['rps']:,.0f} | {share} | {r['p50_ms']:.2f} | "
              f"{r['p99_ms']:.2f} | {r['p999_ms']:.2f} | {r['cpu_ms_per_request']:.3f} | "
              f"{r.get('sim_cpu_ms_per_request', 0):.3f} | {r.get('database_cpu_ms_per_request', 0):.3f} | {r['rss_mib']:.1f} | {r['hwm_mib']:.1f} | {r['non_2xx']} |")


if __name__ == "__main__":
    main()

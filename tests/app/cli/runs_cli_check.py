"""CLI check of `den2moe runs` (issue 18): on a copy of the demo project with its own cache, a CLI-made
random-split conversion and a router-stage training run from it appear in `den2moe runs P --json` with
the right lineage (kind, recipe, experts, top-k, made from, stages, held-out perplexities equal to the
run's train.json, the runs made from each); the table names them; --rename shows in the child's "made
from"; --delete without --yes exits 1, names the run made from it and removes nothing; a folder that is
no run is refused (exit 1); --delete --yes removes the folder and the listing drops it; strict
parsing (an unknown option, a missing PROJECT, --label without --rename: exit 1).
Prints RUNS_CLI_OK on success; any failed check raises (exit 1) naming what differed."""
import json, os, shutil, subprocess, sys


def run(args, code=0):
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != code:
        raise SystemExit("%s: exit %d, expected %d\nstdout: %s\nstderr: %s" % (" ".join(args[1:4]), p.returncode, code,
                                                                             p.stdout, p.stderr))
    return p


def expect(cond, what):
    if not cond:
        raise SystemExit("FAILED: " + what)


def main():
    den2moe, source, work = sys.argv[1:4]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    work = os.path.realpath(work)
    with open(os.path.join(source, "projects", "demo.den2moe.json")) as f:
        p = json.load(f)
    p["cache_dir"] = os.path.join(work, "cache")
    project = os.path.join(work, "p.den2moe.json")
    with open(project, "w") as f:
        json.dump(p, f)
    moe, router = os.path.join(work, "moe"), os.path.join(work, "router")

    # nothing yet
    out = run([den2moe, "runs", project, "--json"]).stdout
    expect(json.loads(out)["runs"] == [], "a fresh project lists no run: " + out)

    run([den2moe, "convert", project, "--recipe", "random", "--experts", "4", "--top-k", "2", "--dtype", "fp32",
         "--no-eval", "--quiet", "--out", moe])
    run([den2moe, "train", moe, "--project", project, "--stage", "router", "--domains", "truthfulqa,python",
         "--seq-len", "32", "--batch", "2", "--eval-windows", "2", "--dtype", "fp32", "--tokens", "640", "--quiet",
         "--out", router])

    doc = json.loads(run([den2moe, "runs", project, "--json"]).stdout)
    runs = doc["runs"]
    expect(doc["project"] == project, "project path: %s" % doc["project"])
    expect([r["path"] for r in runs] == [moe, router], "runs oldest first: %s" % [r["path"] for r in runs])
    c, t = runs
    expect(c["kind"] == "conversion" and t["kind"] == "training", "kinds: %s %s" % (c["kind"], t["kind"]))
    expect(c["client"] == "den2moe" and t["client"] == "den2moe", "client")
    expect(c["recipe"] == "random" and c["n_experts"] == 4 and c["top_k"] == 2, "conversion lineage: %s" % c)
    expect(c["parent"] == "" and os.path.basename(c["source_model"]) == "demo-llama-7m", "conversion source: %s" % c)
    expect(c["made_from"] == "dense demo-llama-7m", "made_from: %s" % c["made_from"])
    expect(c["lineage"] == "random \u00b7 4 experts top-2", "lineage: %r" % c["lineage"])
    expect(c["made_into"] == [router], "made_into: %s" % c["made_into"])
    expect(t["parent"] == moe and t["made_from"] == "moe", "training parent: %s / %s" % (t["parent"], t["made_from"]))
    expect(t["stages"] == ["router"] and t["recipe"] == "random" and t["n_experts"] == 4, "training lineage: %s" % t)
    expect(t["lineage"] == "random \u00b7 4 experts top-2 \u2192 router", "training lineage: %r" % t["lineage"])
    with open(os.path.join(router, "train.json")) as f:
        tj = json.load(f)
    expect(t["ppl_before"] == tj["held_out_before"]["ppl"] and t["ppl_after"] == tj["held_out_after"]["ppl"],
           "held-out ppl %s %s vs train.json %s %s" % (t["ppl_before"], t["ppl_after"], tj["held_out_before"]["ppl"],
                                                        tj["held_out_after"]["ppl"]))
    expect(t["results"] == ["held-out ppl %.1f \u2192 %.1f" % (tj["held_out_before"]["ppl"], tj["held_out_after"]["ppl"])],
           "results: %s" % t["results"])

    table = run([den2moe, "runs", project]).stdout
    expect(table.splitlines()[0].split() == ["RUN", "KIND", "MADE", "FROM", "LINEAGE", "RESULTS"], "header: " + table)
    expect("router  training" in table and moe in table and "\u2192 router" in table, "table: " + table)

    # rename: the child's "made from" follows
    run([den2moe, "runs", project, "--rename", moe, "--label", "before stage 1"])
    runs = json.loads(run([den2moe, "runs", project, "--json"]).stdout)["runs"]
    expect(runs[0]["label"] == "before stage 1" and runs[1]["made_from"] == "before stage 1", "rename: %s" % runs)

    # delete: not without --yes (the child is named), never a folder that is no run
    p = run([den2moe, "runs", project, "--delete", moe], code=1)
    expect("router" in p.stderr and "made from it" in p.stderr and "--yes" in p.stderr, "no --yes: " + p.stderr)
    expect(os.path.isdir(moe), "the folder survives a delete without --yes")
    p = run([den2moe, "runs", project, "--delete", work, "--yes"], code=1)
    expect("not a run of project" in p.stderr and os.path.isdir(work), "a non-run: " + p.stderr)
    run([den2moe, "runs", project, "--delete", moe, "--yes"])
    expect(not os.path.exists(moe), "deleted")
    runs = json.loads(run([den2moe, "runs", project, "--json"]).stdout)["runs"]
    expect([r["path"] for r in runs] == [router] and runs[0]["made_from"] == "moe (not a run)", "after delete: %s" % runs)

    # strict parsing
    for bad in (["runs", project, "--bogus"], ["runs"], ["runs", project, "--label", "x"], ["runs", project, "--yes"],
                ["runs", project, "--rename", router], ["runs", project, "--json", "--delete", router, "--yes"]):
        p = run([den2moe] + bad, code=1)
        expect("error:" in p.stderr, "%s: %s" % (bad, p.stderr))
    expect(os.path.isdir(router), "a refused command removed nothing")
    print("RUNS_CLI_OK")


if __name__ == "__main__":
    main()

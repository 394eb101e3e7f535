#!/usr/bin/env bash
# Mutation testing of the fail-closed paths (issue 15); a script, not part of CI's time budget.
#
# Mutates rebac/engine/check.py, rebac/engine/caveats.py, rebac/engine/delegation.py and the API's
# error mapping (rebac/api/problems.py) with mutmut 3, and runs the tests against every mutant. A
# mutant that survives is a change of the code no test notices; the ones that matter most turn an
# error, a condition or a deny into an allow. The run happens in a temporary copy of the committed
# tree (mutmut writes a mutants/ folder beside the code), so the working tree is left alone.
#
# Test selection: mutmut first runs the chosen tests once and records which test reaches which
# mutated function (its "stats" phase); each mutant then runs only those tests, with -x. The
# default tests are the ones that exercise the four modules: the engine unit tests, the API unit
# tests (with the problem-mapping tests), the regressions and the fail-closed mutant tests, plus the
# PostgreSQL API file that maps caveat errors to problem details (it needs REBAC_TEST_DATABASE_URL,
# or starts an embedded server).
# Everything runs under `nice -n 10`: the machine is shared. See docs/mutation.md.
#
# Usage: scripts/mutation.sh [pytest paths...]
#   MUTATION_CHILDREN  parallel workers (default 1: the machine is shared)
#   MUTATION_DIR       work in this folder (created; kept) instead of a temporary one; a second run
#                      there only runs mutants without a result, and `mutmut run NAME...` there
#                      reruns chosen ones (copy changed tests into it and its mutants/ first)
#   MUTATION_KEEP=1    keep the temporary folder (its path is printed), e.g. for `mutmut show NAME`
#   MUTATION_REPORT=1  only print the report of the run in MUTATION_DIR (no mutants are run)
#   MUTATION_TIMEOUT_MULTIPLIER, MUTATION_TIMEOUT_CONSTANT  a mutant whose tests run longer than
#                      (their time in the stats phase + CONSTANT s) x MULTIPLIER is stopped and
#                      counted "timeout" (defaults 5 and 10: each forked run pays pytest's own
#                      start-up, and a looping mutant must not hold a worker for many minutes)
# Prints the score (killed / all mutants) per module and overall, and every mutant not killed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
    tests=(
        tests/unit/engine
        tests/unit/api
        tests/regressions
        tests/integration/api/test_caveat_errors_api.py
    )
fi
modules=(rebac/engine/check.py rebac/engine/caveats.py rebac/engine/delegation.py rebac/api/problems.py)

report() {
    # one line per mutant in results.txt: "<module>.<function>__mutmut_<n>: <status>"
    "$root/.venv/bin/python" - results.txt "${modules[@]}" <<'PY'
import re
import sys
from collections import Counter, defaultdict

results, modules = sys.argv[1], [m.removesuffix(".py").replace("/", ".") for m in sys.argv[2:]]
by_module: dict[str, Counter[str]] = defaultdict(Counter)
others = []
for line in open(results, encoding="utf-8"):
    name, sep, status = line.strip().rpartition(": ")
    if not sep:
        continue
    module = next((m for m in modules if name.startswith(m + ".")), "?")
    by_module[module][status] += 1
    if status != "killed":
        others.append(f"  {status:10} {name}")
print("== not killed")
print("\n".join(others) if others else "  (none)")
print("== score per module (killed / mutants)")
total = Counter()
for module in modules:
    counts = by_module[module]
    total += counts
    n = sum(counts.values())
    rest = ", ".join(f"{s} {c}" for s, c in sorted(counts.items()) if s != "killed")
    print(f"  {module:28} {counts['killed']:4} / {n:4}  {100 * counts['killed'] / max(n, 1):5.1f} %  {rest}")
n = sum(total.values())
print(f"  {'overall':28} {total['killed']:4} / {n:4}  {100 * total['killed'] / max(n, 1):5.1f} %")
PY
}

if [ -n "${MUTATION_DIR:-}" ]; then
    work=$(mkdir -p "$MUTATION_DIR" && cd "$MUTATION_DIR" && pwd)
elif [ "${MUTATION_REPORT:-0}" = 1 ]; then
    echo "MUTATION_REPORT needs MUTATION_DIR" >&2
    exit 2
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/rebac-mutation-XXXXXX")
    if [ "${MUTATION_KEEP:-0}" != 1 ]; then
        trap 'rm -rf "$work"' EXIT
    fi
fi

if [ "${MUTATION_REPORT:-0}" != 1 ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check 'mutmut>=3.8,<4'
    if [ ! -e "$work/setup.cfg" ]; then
        git archive HEAD | tar -x -C "$work"
        if [ -d "$root/../shared" ]; then
            # the tests read the shared corpora next to the repository; mutmut runs them from mutants/
            ln -s "$(cd "$root/../shared" && pwd)" "$work/shared"
        fi
        {
            echo "[mutmut]"
            echo "source_paths=rebac/"
            echo "only_mutate="
            for path in "${modules[@]}"; do
                echo "    $path"
            done
            echo "also_copy="  # what the tests read besides rebac/ and tests/
            for path in schema docs migrations scripts README.md pyproject.toml; do
                echo "    $path"
            done
            echo "timeout_multiplier=${MUTATION_TIMEOUT_MULTIPLIER:-5}"
            echo "timeout_constant=${MUTATION_TIMEOUT_CONSTANT:-10}"
            echo "pytest_add_cli_args_test_selection="
            for path in "${tests[@]}"; do
                echo "    $path"
            done
            echo "pytest_add_cli_args="
            echo "    -p"
            echo "    no:cacheprovider"
            echo "    -q"
            echo "    --ignore=tests/unit/test_layering.py"  # structure, not behaviour; trampolines lengthen modules
        } > "$work/setup.cfg"
    fi
    cd "$work"
    started=$(date +%s)
    echo "mutation: ${tests[*]} against ${#modules[@]} modules, in $work; load: $(cut -d' ' -f1-3 /proc/loadavg)"
    nice -n 10 "$root/.venv/bin/mutmut" run --max-children "${MUTATION_CHILDREN:-1}" || true
    echo "mutation: $(( ($(date +%s) - started) / 60 )) min; load: $(cut -d' ' -f1-3 /proc/loadavg)"
fi
cd "$work"
"$root/.venv/bin/mutmut" results --all true > results.txt || true
report

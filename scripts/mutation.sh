#!/usr/bin/env bash
# Mutation testing of the fail-closed paths (issue 15); a script, not part of CI's time budget.
#
# Mutates rebac/engine/check.py, rebac/engine/caveats.py, rebac/engine/delegation.py and the API's
# error mapping (rebac/api/problems.py) with mutmut, and runs the tests against every mutant. A
# mutant that survives is a change of the code no test notices; the ones that matter most turn an
# error, a condition or a deny into an allow. The run happens in a temporary copy of the committed
# tree (mutmut writes a mutants/ folder beside the code), so the working tree is left alone.
#
# Usage: scripts/mutation.sh [pytest paths...]   (default: tests/unit tests/regressions)
#   MUTATION_CHILDREN  parallel workers (default 1: the machine is shared)
#   MUTATION_KEEP=1    keep the temporary copy (its path is printed) to inspect survivors with
#                      `mutmut show <name>` there
# Needs the dev extras (.venv) and, for tests that use PostgreSQL, REBAC_TEST_DATABASE_URL.
# Prints the score (killed / all mutants) and the survivors.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
    tests=(tests/unit tests/regressions)
fi

.venv/bin/python -m pip install --quiet --disable-pip-version-check 'mutmut>=3.3,<4'

work=$(mktemp -d "${TMPDIR:-/tmp}/rebac-mutation-XXXXXX")
if [ "${MUTATION_KEEP:-0}" != 1 ]; then
    trap 'rm -rf "$work"' EXIT
fi
git archive HEAD | tar -x -C "$work"
if [ -d "$root/../shared" ]; then
    # the tests read the shared corpora next to the repository; mutmut runs them from mutants/
    ln -s "$(cd "$root/../shared" && pwd)" "$work/shared"
fi
cd "$work"

{
    echo "[mutmut]"
    echo "source_paths=rebac/"
    echo "only_mutate="
    for path in rebac/engine/check.py rebac/engine/caveats.py rebac/engine/delegation.py rebac/api/problems.py; do
        echo "    $path"
    done
    echo "also_copy="  # what the tests read besides rebac/ and tests/
    for path in schema docs migrations scripts README.md pyproject.toml; do
        echo "    $path"
    done
    echo "pytest_add_cli_args_test_selection="
    for path in "${tests[@]}"; do
        echo "    $path"
    done
    echo "pytest_add_cli_args="
    echo "    -p"
    echo "    no:cacheprovider"
    echo "    -q"
    echo "    --ignore=tests/unit/test_layering.py"  # structure, not behaviour; mutmut's trampolines lengthen modules
} > setup.cfg

echo "mutation: ${tests[*]} against 4 modules, in $work; load: $(cut -d' ' -f1-3 /proc/loadavg)"
"$root/.venv/bin/mutmut" run --max-children "${MUTATION_CHILDREN:-1}" || true
"$root/.venv/bin/mutmut" results --all true > results.txt || true
killed=$(grep -c ': killed$' results.txt || true)
survived=$(grep -c ': survived$' results.txt || true)
total=$(grep -c ': ' results.txt || true)
echo "== survivors"
grep -v ': killed$' results.txt || true
echo "== score: ${killed} killed of ${total} mutants (${survived} survived); load: $(cut -d' ' -f1-3 /proc/loadavg)"

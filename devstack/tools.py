"""The external programs the stack needs (java, mvn, go, PostgreSQL), found once with a clear error."""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

from devstack.errors import StackError

MIN_JAVA = 17  # Kafka 4 brokers and Quarkus 3 both need Java 17


def which(program: str, what: str, fix: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise StackError(f"{what} not found: `{program}` is not on PATH", fix)
    return path


@cache
def java_major(java: str) -> int:
    out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60, check=False)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        return 0
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def require_java(java: str) -> str:
    path = which(java, "Java", f"install a JDK {MIN_JAVA}+ (apt-get install openjdk-17-jre-headless) or set STACK_JAVA")
    major = java_major(path)
    if major < MIN_JAVA:
        raise StackError(
            f"{path} is Java {major}; Kafka and the schema registry need Java {MIN_JAVA}+",
            "install openjdk-17 or point STACK_JAVA at a newer java",
        )
    return path


def require_maven(mvn: str) -> str:
    return which(
        mvn, "Maven (needed once, to fetch the Kafka and registry jars)", "apt-get install maven, or set STACK_MAVEN"
    )


def require_go(go: str) -> str:
    return which(go, "Go (needed once, to build MinIO)", "install Go 1.24+ (https://go.dev/dl) or set STACK_GO")


def require_pg(bin_dir: Path) -> Path:
    for program in ("initdb", "postgres"):
        if not (bin_dir / program).is_file():
            raise StackError(
                f"PostgreSQL server binaries not found: {bin_dir / program} is missing",
                "apt-get install postgresql-15, or set STACK_PG_BIN_DIR to the folder holding initdb",
            )
    return bin_dir

"""Languages are data: one declaration each. Behaviour (compile or not, self-test) lives in `runner`.

A declaration names its toolchain binaries (missing ones make the language unavailable), how to read its
version, its source file name, an optional compile command, a run command, limit adjustments, the compile
stage's limits and a self-test program with its expected output.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field

from executor.limits import Limits

COMPILE_LIMITS = Limits(cpu_time=15.0, wall_time=30.0, memory=768, processes=64, output=256, file_size=262144,
                        disk=256, disk_inodes=8192)  # fmt: skip


@dataclass(frozen=True)
class Language:
    id: str
    name: str
    source_name: str
    run: tuple[str, ...]  # argv; "{memory}" becomes the run's memory limit in MiB
    version_command: tuple[str, ...]
    version_pattern: str  # first group of the first match in the version command's output
    toolchain: tuple[str, ...]  # host binaries that must exist
    self_test: str  # a program that reads one line and prints it reversed, upper-cased
    compile: tuple[str, ...] | None = None
    compile_limits: Limits = COMPILE_LIMITS
    # Added to what a request asks for (then capped at the operator's maxima): a runtime's own overhead.
    extra: Mapping[str, float] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def compiled(self) -> bool:
        return self.compile is not None

    @functools.cached_property
    def version(self) -> str:
        """Read from the toolchain itself (a trusted host binary), not declared."""
        try:
            out = subprocess.run(self.version_command, capture_output=True, text=True, timeout=20, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return "unknown"
        match = re.search(self.version_pattern, out.stdout + out.stderr)
        return match.group(1) if match else "unknown"

    def missing_toolchain(self) -> list[str]:
        return [path for path in self.toolchain if not os.access(path, os.X_OK)]


SELF_TEST_INPUT = b"olleh\n"
SELF_TEST_OUTPUT = b"HELLO\n"

LANGUAGES: tuple[Language, ...] = (
    Language(
        id="python3",
        name="Python 3",
        source_name="main.py",
        # -E -s -S: no PYTHON* variables, no user or site packages; unlike -I, the program's own directory stays on
        # sys.path so that a multi-file program imports its modules.
        run=("/usr/bin/python3", "-E", "-s", "-S", "main.py"),
        version_command=("/usr/bin/python3", "--version"),
        version_pattern=r"Python (\S+)",
        toolchain=("/usr/bin/python3",),
        env={"PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"},
        self_test="print(input()[::-1].upper())\n",
    ),
    Language(
        id="c",
        name="C (GCC)",
        source_name="main.c",
        compile=("/usr/bin/gcc", "-std=gnu17", "-O2", "-pipe", "-Wall", "-o", "main", "main.c", "-lm"),
        run=("./main",),
        version_command=("/usr/bin/gcc", "--version"),
        version_pattern=r"gcc \(.*?\) (\S+)",
        toolchain=("/usr/bin/gcc",),
        self_test='#include <stdio.h>\n#include <string.h>\n#include <ctype.h>\nint main(void){char s[64];'
        'if(!fgets(s,sizeof s,stdin))return 1;int n=strlen(s);while(n&&s[n-1]==10)n--;'
        'for(int i=n-1;i>=0;i--)putchar(toupper((unsigned char)s[i]));putchar(10);return 0;}\n',
    ),
    Language(
        id="cpp",
        name="C++ (G++)",
        source_name="main.cpp",
        compile=("/usr/bin/g++", "-std=gnu++17", "-O2", "-pipe", "-Wall", "-o", "main", "main.cpp"),
        run=("./main",),
        version_command=("/usr/bin/g++", "--version"),
        version_pattern=r"g\+\+ \(.*?\) (\S+)",
        toolchain=("/usr/bin/g++",),
        self_test="#include <algorithm>\n#include <cctype>\n#include <iostream>\n#include <string>\n"
        "int main(){std::string s;std::getline(std::cin,s);std::reverse(s.begin(),s.end());"
        "for(auto&c:s)c=std::toupper((unsigned char)c);std::cout<<s<<'\\n';}\n",
    ),
    Language(
        id="java",
        name="Java (OpenJDK 17)",
        source_name="Main.java",
        compile=("/usr/lib/jvm/java-17-openjdk-amd64/bin/javac", "-J-XX:+UseSerialGC", "-J-Xss8m",
                 "-J-XX:TieredStopAtLevel=1", "-encoding", "UTF-8", "Main.java"),  # fmt: skip
        run=("/usr/lib/jvm/java-17-openjdk-amd64/bin/java", "-XX:+UseSerialGC", "-Xmx{memory}m", "-Xss64m",
             "-XX:ActiveProcessorCount=1", "Main"),  # fmt: skip
        version_command=("/usr/lib/jvm/java-17-openjdk-amd64/bin/java", "-version"),
        version_pattern=r'version "([^"]+)"',
        toolchain=("/usr/lib/jvm/java-17-openjdk-amd64/bin/java", "/usr/lib/jvm/java-17-openjdk-amd64/bin/javac"),
        # The JVM's own code, metaspace and threads come on top of the heap the program asked for.
        extra={"memory": 192, "processes": 32},
        self_test="public class Main{public static void main(String[] a)throws Exception{"
        "String s=new java.io.BufferedReader(new java.io.InputStreamReader(System.in)).readLine();"
        "System.out.println(new StringBuilder(s).reverse().toString().toUpperCase());}}\n",
    ),
    Language(
        id="javascript",
        name="JavaScript (Node.js)",
        source_name="main.js",
        run=("/usr/bin/node", "main.js"),
        version_command=("/usr/bin/node", "--version"),
        version_pattern=r"v(\S+)",
        toolchain=("/usr/bin/node",),
        extra={"memory": 64, "processes": 16},
        self_test="const s=require('fs').readFileSync(0,'utf8').split('\\n')[0];"
        "console.log([...s].reverse().join('').toUpperCase());\n",
    ),
    Language(
        id="bash",
        name="Bash",
        source_name="main.sh",
        run=("/usr/bin/bash", "main.sh"),
        version_command=("/usr/bin/bash", "--version"),
        version_pattern=r"version (\S+?)\(",
        toolchain=("/usr/bin/bash", "/usr/bin/rev", "/usr/bin/tr"),
        self_test="read -r s; echo \"$s\" | rev | tr a-z A-Z\n",
    ),
)

REGISTRY: Mapping[str, Language] = {lang.id: lang for lang in LANGUAGES}


class UnknownLanguage(KeyError):
    def __str__(self) -> str:
        return f"unknown language {self.args[0]!r}; known: {', '.join(REGISTRY)}"


def get(language_id: str) -> Language:
    try:
        return REGISTRY[language_id]
    except KeyError:
        raise UnknownLanguage(language_id) from None

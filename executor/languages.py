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
from dataclasses import dataclass, field, replace

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
    # The box's root: "host" (the host's runtime, read-only) or an image of the store (executor/images.py), whose
    # toolchain is checked and whose version is read inside a box.
    image: str = "host"

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
        return self.version_in(out.stdout + out.stderr)

    def version_in(self, text: str) -> str:
        """The version in what the version command printed (on the host, or in a box of the language's image)."""
        match = re.search(self.version_pattern, text)
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
    Language(
        id="ruby",
        name="Ruby",
        source_name="main.rb",
        run=("/usr/bin/ruby", "main.rb"),
        version_command=("/usr/bin/ruby", "--version"),
        version_pattern=r"ruby ([\d.]+)",  # 3.1.2 of "ruby 3.1.2p20 (...)": RUBY_VERSION, without the patch level
        toolchain=("/usr/bin/ruby",),
        self_test="puts gets.chomp.reverse.upcase\n",
    ),
    Language(
        id="go",
        name="Go",
        source_name="main.go",
        compile=("/usr/bin/go", "build", "-o", "main", "main.go"),
        run=("./main",),
        version_command=("/usr/bin/go", "version"),
        version_pattern=r"go version go(\S+)",
        toolchain=("/usr/bin/go",),
        # HOME (/box) is the program's directory and read-only to later runs: the build cache and GOPATH go to the
        # compile stage's own /tmp. GOPATH mode (GO111MODULE=off) builds a lone file without a go.mod and never asks
        # the module proxy. Without cgo the binary is static and no C compiler is involved. GOMAXPROCS: Go sizes its
        # scheduler and garbage collector by the host's CPU count, not the box's CPU quota, and on a many-core host
        # would run into the box's process limit (as Java's ActiveProcessorCount=1).
        env={"GOCACHE": "/tmp/go-cache", "GOPATH": "/tmp/go", "GO111MODULE": "off", "CGO_ENABLED": "0",
             "GOMAXPROCS": "1"},  # fmt: skip
        self_test='package main\n\nimport (\n\t"bufio"\n\t"fmt"\n\t"os"\n\t"strings"\n)\n\nfunc main() {\n'
        '\ts, _ := bufio.NewReader(os.Stdin).ReadString(10)\n\tr := []rune(strings.TrimRight(s, "\\n"))\n'
        '\tfor i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {\n\t\tr[i], r[j] = r[j], r[i]\n\t}\n'
        '\tfmt.Println(strings.ToUpper(string(r)))\n}\n',
    ),
    Language(
        id="rust",
        name="Rust",
        source_name="main.rs",
        compile=("/usr/bin/rustc", "--edition=2021", "-O", "-o", "main", "main.rs"),
        run=("./main",),
        version_command=("/usr/bin/rustc", "--version"),
        version_pattern=r"rustc (\S+)",
        toolchain=("/usr/bin/rustc", "/usr/bin/cc"),  # rustc links with the C compiler driver
        self_test="fn main(){let mut s=String::new();std::io::stdin().read_line(&mut s).unwrap();"
        "println!(\"{}\",s.trim_end_matches('\\n').chars().rev().collect::<String>().to_uppercase());}\n",
    ),
    Language(
        id="php",
        name="PHP",
        source_name="main.php",
        # The box has no /etc/php: without a php.ini PHP displays errors on stdout, where they would be taken for
        # the program's output (log_errors off: a php.ini, should one appear, must not print them twice), and
        # stops a program at 128 MiB of its own accounting: the box's memory limit is the one that counts.
        run=("/usr/bin/php", "-d", "display_errors=stderr", "-d", "log_errors=0", "-d", "memory_limit=-1",
             "main.php"),  # fmt: skip
        version_command=("/usr/bin/php", "--version"),
        version_pattern=r"PHP (\S+)",
        toolchain=("/usr/bin/php",),
        # The extensions Debian enables by default (ctype, iconv, tokenizer, ...), from the package's own copy of
        # their ini files rather than /etc/php/8.2/cli/conf.d.
        env={"PHP_INI_SCAN_DIR": "/usr/share/php8.2-common/common"},
        self_test="<?php echo strtoupper(strrev(rtrim(fgets(STDIN), \"\\n\"))), \"\\n\";\n",
    ),
    Language(
        id="perl",
        name="Perl",
        source_name="main.pl",
        run=("/usr/bin/perl", "main.pl"),
        version_command=("/usr/bin/perl", "-e", "print $^V"),
        version_pattern=r"v(\S+)",
        toolchain=("/usr/bin/perl",),
        self_test="my $s = <STDIN>; chomp $s; print uc(reverse $s), \"\\n\";\n",
    ),
    Language(
        id="lua",
        name="Lua",
        source_name="main.lua",
        run=("/usr/bin/lua5.4", "main.lua"),
        version_command=("/usr/bin/lua5.4", "-v"),
        version_pattern=r"Lua (\S+)",
        toolchain=("/usr/bin/lua5.4",),
        self_test="print(io.read('l'):reverse():upper())\n",
    ),
    Language(
        id="typescript",
        name="TypeScript",
        source_name="main.ts",
        # Node's own type declarations (@types/node) make `require` and `process` known to the type checker: Debian's
        # nodejs package ships them in /usr/share/nodejs, npm's global install puts them in /usr/lib/node_modules.
        # No DOM library (Node has no DOM) and no checking of the declaration files themselves: a third of the time.
        compile=("/usr/bin/tsc", "--target", "es2022", "--lib", "es2022", "--module", "commonjs", "--skipLibCheck",
                 "--types", "node", "--typeRoots", "/usr/share/nodejs/@types,/usr/lib/node_modules/@types",
                 "main.ts"),  # fmt: skip
        run=("/usr/bin/node", "main.js"),
        version_command=("/usr/bin/tsc", "--version"),
        version_pattern=r"Version (\S+)",
        toolchain=("/usr/bin/tsc", "/usr/bin/node"),
        extra={"memory": 64, "processes": 16},  # as JavaScript: the program runs on Node.js
        self_test="const s: string = require('fs').readFileSync(0, 'utf8').split('\\n')[0];\n"
        "console.log([...s].reverse().join('').toUpperCase());\n",
    ),
    Language(
        id="csharp",
        name="C# (Mono)",
        source_name="main.cs",
        # Mono (mcs is mono running mcs.exe) needs /etc/mono in the box (mounts.Layout.etc_binds): its `config` maps
        # the class library's System.Native to libmono-native.so, without which even File.Exists fails, and mcs
        # reports "Source file `main.cs' could not be found".
        compile=("/usr/bin/mcs", "-out:main.exe", "main.cs"),
        run=("/usr/bin/mono", "main.exe"),
        version_command=("/usr/bin/mcs", "--version"),
        version_pattern=r"version (\S+)",
        toolchain=("/usr/bin/mcs", "/usr/bin/mono"),
        self_test="using System;\nclass Program{static void Main(){var a=Console.ReadLine().ToCharArray();"
        "Array.Reverse(a);Console.WriteLine(new string(a).ToUpperInvariant());}}\n",
    ),
    Language(
        id="pascal",
        name="Pascal (FPC)",
        source_name="main.pas",
        # The box has no /etc/fpc.cfg: -n reads none, and the options that matter from Debian's are given here (the
        # units' path, -Sgic: goto, inline and C-style operators). The linker is binutils' ld, found on PATH.
        compile=("/usr/bin/fpc", "-n", "-O2", "-Sgic", "-Xs",
                 "-Fu/usr/lib/x86_64-linux-gnu/fpc/3.2.2/units/x86_64-linux/*", "-omain", "main.pas"),  # fmt: skip
        run=("./main",),
        version_command=("/usr/bin/fpc", "-iV"),
        version_pattern=r"(\S+)",
        toolchain=("/usr/bin/fpc", "/usr/bin/ppcx64", "/usr/bin/ld"),
        self_test="program main;\nvar s, r: string; i: integer;\nbegin\n  readln(s);\n  r := '';\n"
        "  for i := length(s) downto 1 do r := r + upcase(s[i]);\n  writeln(r);\nend.\n",
    ),
    Language(
        id="fortran",
        name="Fortran (GFortran)",
        source_name="main.f90",
        compile=("/usr/bin/gfortran", "-O2", "-pipe", "-o", "main", "main.f90"),
        run=("./main",),
        version_command=("/usr/bin/gfortran", "--version"),
        version_pattern=r"GNU Fortran \(.*?\) (\S+)",
        toolchain=("/usr/bin/gfortran",),
        self_test="program main\n  character(len=256) :: s\n  integer :: i, n\n  read (*, '(a)') s\n"
        "  n = len_trim(s)\n  do i = n, 1, -1\n    if (s(i:i) >= 'a' .and. s(i:i) <= 'z') then\n"
        "      write (*, '(a)', advance='no') achar(iachar(s(i:i)) - 32)\n    else\n"
        "      write (*, '(a)', advance='no') s(i:i)\n    end if\n  end do\n  write (*, '(a)') ''\nend program main\n",
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


def derive(base: Language, *, id: str, name: str, image: str) -> Language:  # noqa: A002 - the declaration's field
    """A language that behaves like `base` (same source name, commands, self-test, limits) on another image: how an
    admin adds Python 3.12 from a Docker image beside the host's Python. The commands' programs are looked up on the
    image's PATH by name (`/usr/bin/python3` → `python3`): images put them in different places (/usr/local/bin in
    Docker's official images); the toolchain is checked by the self-test, in a box of that image."""
    return replace(base, id=id, name=name, image=image, run=_by_name(base.run),
                   compile=None if base.compile is None else _by_name(base.compile),
                   version_command=_by_name(base.version_command), toolchain=())  # fmt: skip


def _by_name(argv: tuple[str, ...]) -> tuple[str, ...]:
    return (os.path.basename(argv[0]), *argv[1:]) if argv and argv[0].startswith("/") else argv

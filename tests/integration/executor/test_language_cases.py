"""Every language of the registry, end to end in the sandbox: hello world, a sum read from stdin, a runtime error
that carries the runtime's own message, and (compiled languages) a compile error that names the line.

The cases are data, one entry per language. A language added to the registry without an entry here fails, and so
does an entry whose compile-error case disagrees with whether the language compiles.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from executor import languages, runner
from executor.config import Config
from executor.result import Outcome, Status

SIGFPE = 8
SIGABRT = 6

HELLO = b"Hello, World!\n"
ADD_INPUT = b"17 25\n"
ADD_OUTPUT = b"42\n"


@dataclass(frozen=True)
class Crash:
    """A program that fails at run time, and how that must look."""

    source: str
    status: Status  # RUNTIME_ERROR (non-zero exit), or SIGNALED where the runtime dies of a signal
    exit_code: int | None = None
    signal: int | None = None
    stderr: tuple[str, ...] = ()  # fragments of the runtime's own message; empty where it prints none


@dataclass(frozen=True)
class CompileError:
    source: str
    # Fragments of the compiler's output (stdout and stderr: tsc, mcs and fpc report on stdout): the message and
    # the position, each in the compiler's own format.
    output: tuple[str, ...]


@dataclass(frozen=True)
class Cases:
    hello: str  # prints exactly "Hello, World!\n"
    add: str  # reads two integers from stdin and prints their sum
    crash: Crash
    compile_error: CompileError | None = None  # for exactly the compiled languages


CASES: dict[str, Cases] = {
    "python3": Cases(
        hello='print("Hello, World!")\n',
        add="a, b = map(int, input().split())\nprint(a + b)\n",
        crash=Crash("zero = 0\nprint(1 // zero)\n", Status.RUNTIME_ERROR, exit_code=1,
                    stderr=("ZeroDivisionError", 'main.py", line 2')),
    ),
    "c": Cases(
        hello='#include <stdio.h>\n\nint main(void) {\n    puts("Hello, World!");\n    return 0;\n}\n',
        add='#include <stdio.h>\n\nint main(void) {\n    long a, b;\n    if (scanf("%ld %ld", &a, &b) != 2)\n'
        '        return 1;\n    printf("%ld\\n", a + b);\n    return 0;\n}\n',
        # Integer division by zero traps (#DE): the kernel sends SIGFPE, and nothing prints a message. (Not 1 / zero:
        # GCC computes that without dividing.)
        crash=Crash('#include <stdio.h>\n\nint main(void) {\n    volatile int zero = 0;\n'
                    '    printf("%d\\n", 42 / zero);\n    return 0;\n}\n', Status.SIGNALED, signal=SIGFPE),
        compile_error=CompileError('#include <stdio.h>\n\nint main(void) {\n    printf("%d\\n", undefined_name);\n'
                                   "    return 0;\n}\n", ("main.c:4:", "error:", "undefined_name")),
    ),
    "cpp": Cases(
        hello='#include <iostream>\n\nint main() {\n    std::cout << "Hello, World!\\n";\n}\n',
        add="#include <iostream>\n\nint main() {\n    long long a, b;\n    std::cin >> a >> b;\n"
        "    std::cout << a + b << '\\n';\n}\n",
        # An uncaught exception calls std::terminate, which prints the exception and aborts: SIGABRT.
        crash=Crash('#include <stdexcept>\n\nint main() {\n    throw std::runtime_error("boom");\n}\n', Status.SIGNALED,
                    signal=SIGABRT, stderr=("terminate called after throwing", "std::runtime_error", "boom")),
        compile_error=CompileError("#include <iostream>\n\nint main() {\n    std::cout << undefined_name;\n}\n",
                                   ("main.cpp:4:", "error:", "undefined_name")),
    ),
    "java": Cases(
        hello='public class Main {\n    public static void main(String[] args) {\n'
        '        System.out.println("Hello, World!");\n    }\n}\n',
        add="import java.util.Scanner;\n\npublic class Main {\n    public static void main(String[] args) {\n"
        "        Scanner in = new Scanner(System.in);\n        long a = in.nextLong(), b = in.nextLong();\n"
        "        System.out.println(a + b);\n    }\n}\n",
        crash=Crash("public class Main {\n    public static void main(String[] args) {\n        int zero = 0;\n"
                    "        System.out.println(1 / zero);\n    }\n}\n", Status.RUNTIME_ERROR, exit_code=1,
                    stderr=("java.lang.ArithmeticException: / by zero", "Main.java:4")),
        compile_error=CompileError("public class Main {\n    public static void main(String[] args) {\n"
                                   "        System.out.println(undefinedName);\n    }\n}\n",
                                   ("Main.java:3: error: cannot find symbol", "undefinedName")),
    ),
    "javascript": Cases(
        hello='console.log("Hello, World!");\n',
        add='const [a, b] = require("fs").readFileSync(0, "utf8").trim().split(/\\s+/).map(Number);\n'
        "console.log(a + b);\n",
        crash=Crash("const zero = 0n;\nconsole.log(1n / zero);\n", Status.RUNTIME_ERROR, exit_code=1,
                    stderr=("RangeError: Division by zero", "main.js:2")),
    ),
    "bash": Cases(
        hello='echo "Hello, World!"\n',
        add="read -r a b\necho $((a + b))\n",
        # The failed arithmetic expansion fails its command (status 1), the script's last.
        crash=Crash("zero=0\necho $((1 / zero))\n", Status.RUNTIME_ERROR, exit_code=1,
                    stderr=("main.sh: line 2:", "division by 0")),
    ),
    "ruby": Cases(
        hello='puts "Hello, World!"\n',
        add="a, b = gets.split.map(&:to_i)\nputs a + b\n",
        crash=Crash("zero = 0\nputs 1 / zero\n", Status.RUNTIME_ERROR, exit_code=1,
                    stderr=("main.rb:2", "divided by 0 (ZeroDivisionError)")),
    ),
    "go": Cases(
        hello='package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println("Hello, World!")\n}\n',
        add='package main\n\nimport "fmt"\n\nfunc main() {\n\tvar a, b int64\n\tfmt.Scan(&a, &b)\n'
        "\tfmt.Println(a + b)\n}\n",
        # An unrecovered panic prints it with the goroutine's stack and exits with 2.
        crash=Crash('package main\n\nimport "fmt"\n\nfunc main() {\n\tzero := 0\n\tfmt.Println(1 / zero)\n}\n',
                    Status.RUNTIME_ERROR, exit_code=2,
                    stderr=("panic: runtime error: integer divide by zero", "main.go:7")),
        compile_error=CompileError('package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println(undefinedName)\n}\n',
                                   ("main.go:6:", "undefined: undefinedName")),
    ),
    "rust": Cases(
        hello='fn main() {\n    println!("Hello, World!");\n}\n',
        add="use std::io::Read;\n\nfn main() {\n    let mut s = String::new();\n"
        "    std::io::stdin().read_to_string(&mut s).unwrap();\n"
        "    let n: Vec<i64> = s.split_whitespace().map(|x| x.parse().unwrap()).collect();\n"
        '    println!("{}", n[0] + n[1]);\n}\n',
        # A panic unwinds, prints its message and exits with 101.
        crash=Crash('fn main() {\n    let zero: i32 = "0".parse().unwrap();\n    println!("{}", 1 / zero);\n}\n',
                    Status.RUNTIME_ERROR, exit_code=101, stderr=("panicked at", "attempt to divide by zero")),
        compile_error=CompileError('fn main() {\n    println!("Hello");\n    println!("{}", undefined_name);\n}\n',
                                   ("error[E0425]", "undefined_name", "main.rs:3:")),
    ),
    "php": Cases(
        hello='<?php\necho "Hello, World!\\n";\n',
        add='<?php\nfscanf(STDIN, "%d %d", $a, $b);\necho $a + $b, "\\n";\n',
        # An uncaught error is fatal: exit status 255.
        crash=Crash("<?php\n$zero = 0;\necho intdiv(1, $zero);\n", Status.RUNTIME_ERROR, exit_code=255,
                    stderr=("Uncaught DivisionByZeroError: Division by zero", "main.php:3")),
    ),
    "perl": Cases(
        hello='print "Hello, World!\\n";\n',
        add="my ($x, $y) = split ' ', <STDIN>;\nprint $x + $y, \"\\n\";\n",
        # die (and so a run-time error) exits with 255 when $! and $? are zero.
        crash=Crash('my $zero = 0;\nprint 1 / $zero, "\\n";\n', Status.RUNTIME_ERROR, exit_code=255,
                    stderr=("Illegal division by zero at main.pl line 2.",)),
    ),
    "lua": Cases(
        hello='print("Hello, World!")\n',
        add='local a, b = io.read("n", "n")\nprint(a + b)\n',
        crash=Crash("local t = nil\nprint(t.x)\n", Status.RUNTIME_ERROR, exit_code=1,
                    stderr=("main.lua:2: attempt to index a nil value",)),
    ),
    "typescript": Cases(
        hello='console.log("Hello, World!");\n',
        add='const [a, b]: number[] = require("fs").readFileSync(0, "utf8").trim().split(/\\s+/).map(Number);\n'
        "console.log(a + b);\n",
        crash=Crash("const zero: bigint = 0n;\nconsole.log(1n / zero);\n", Status.RUNTIME_ERROR, exit_code=1,
                    stderr=("RangeError: Division by zero",)),
        # A type error, not only a syntax error: tsc checks types and the compile stage fails on them.
        compile_error=CompileError('const greeting: string = "Hello";\nconsole.log(greeting);\n'
                                   'const count: number = "three";\n',
                                   ("main.ts(3,", "error TS2322", "not assignable to type 'number'")),
    ),
    "csharp": Cases(
        hello="using System;\n\nclass Program {\n    static void Main() {\n"
        '        Console.WriteLine("Hello, World!");\n    }\n}\n',
        add="using System;\n\nclass Program {\n    static void Main() {\n"
        "        var parts = Console.ReadLine().Split(new[] {' '}, StringSplitOptions.RemoveEmptyEntries);\n"
        "        Console.WriteLine(long.Parse(parts[0]) + long.Parse(parts[1]));\n    }\n}\n",
        crash=Crash("using System;\n\nclass Program {\n    static void Main() {\n        int zero = 0;\n"
                    "        Console.WriteLine(1 / zero);\n    }\n}\n", Status.RUNTIME_ERROR, exit_code=1,
                    stderr=("Unhandled Exception", "System.DivideByZeroException")),
        compile_error=CompileError("using System;\n\nclass Program {\n    static void Main() {\n"
                                   "        Console.WriteLine(undefinedName);\n    }\n}\n",
                                   ("main.cs(5,", "error CS0103", "undefinedName")),
    ),
    "pascal": Cases(
        hello="program main;\nbegin\n  writeln('Hello, World!');\nend.\n",
        add="program main;\nvar a, b: int64;\nbegin\n  readln(a, b);\n  writeln(a + b);\nend.\n",
        # The RTL's run-time error 200 (division by zero) becomes the exit status.
        crash=Crash("program main;\nvar zero: integer;\nbegin\n  zero := 0;\n  writeln(1 div zero);\nend.\n",
                    Status.RUNTIME_ERROR, exit_code=200, stderr=("Runtime error 200",)),
        compile_error=CompileError("program main;\nbegin\n  writeln(undefinedName);\nend.\n",
                                   ("main.pas(3,", "Error: Identifier not found", "undefinedName")),
    ),
    "fortran": Cases(
        hello="program main\n  print '(a)', 'Hello, World!'\nend program main\n",
        add="program main\n  integer(kind=8) :: a, b\n  read *, a, b\n  print '(i0)', a + b\nend program main\n",
        # libgfortran's run-time errors exit with status 2.
        crash=Crash("program main\n  integer, allocatable :: a(:)\n  allocate (a(3))\n  allocate (a(3))\n"
                    "  print *, size(a)\nend program main\n", Status.RUNTIME_ERROR, exit_code=2,
                    stderr=("Fortran runtime error: Attempting to allocate already allocated variable 'a'",)),
        compile_error=CompileError("program main\n  implicit none\n  print *, undefined_name\nend program main\n",
                                   ("main.f90:3:", "Error: Symbol", "undefined_name", "has no IMPLICIT type")),
    ),
}  # fmt: skip

ALL = [lang.id for lang in languages.LANGUAGES]
COMPILED = [lang.id for lang in languages.LANGUAGES if lang.compiled]


def cases_of(language_id: str) -> Cases:
    if language_id not in CASES:
        pytest.fail(f"language {language_id!r} is in the registry but has no cases in {__name__}", pytrace=False)
    return CASES[language_id]


def run(config: Config, language_id: str, source: str, stdin: bytes = b"") -> Outcome:
    return runner.execute(languages.get(language_id), source.encode(), stdin, config=config)


def compiled_cleanly(outcome: Outcome) -> bool:
    return outcome.compile is None or outcome.compile.status is Status.OK


@pytest.mark.parametrize("language_id", ALL)
def test_every_language_has_cases_and_a_compile_error_case_exactly_when_it_compiles(language_id: str) -> None:
    cases = cases_of(language_id)
    assert (cases.compile_error is not None) == languages.get(language_id).compiled


def test_no_cases_for_a_language_that_is_not_in_the_registry() -> None:
    assert set(CASES) <= set(ALL)


@pytest.mark.parametrize("language_id", ALL)
def test_hello_world_prints_exactly_hello_world(config: Config, language_id: str) -> None:
    outcome = run(config, language_id, cases_of(language_id).hello)
    assert outcome.status is Status.OK and compiled_cleanly(outcome), outcome.to_json()
    assert outcome.run is not None
    assert outcome.run.stdout == HELLO
    assert outcome.run.stderr == b""  # a runtime that complains about its setup in the box would show here


@pytest.mark.parametrize("language_id", ALL)
def test_the_sum_of_two_integers_read_from_stdin_is_printed(config: Config, language_id: str) -> None:
    outcome = run(config, language_id, cases_of(language_id).add, ADD_INPUT)
    assert outcome.status is Status.OK, outcome.to_json()
    assert outcome.run is not None and outcome.run.stdout == ADD_OUTPUT


@pytest.mark.parametrize("language_id", ALL)
def test_a_runtime_error_is_reported_with_the_runtimes_message(config: Config, language_id: str) -> None:
    crash = cases_of(language_id).crash
    outcome = run(config, language_id, crash.source)
    assert compiled_cleanly(outcome), outcome.to_json()
    assert outcome.status is crash.status, outcome.to_json()
    assert outcome.run is not None
    assert (outcome.run.exit_code, outcome.run.signal) == (crash.exit_code, crash.signal)
    stderr = outcome.run.stderr.decode(errors="replace")
    for fragment in crash.stderr:
        assert fragment in stderr, stderr


@pytest.mark.parametrize("language_id", COMPILED)
def test_a_compile_error_fails_the_compile_stage_with_the_message_and_line(config: Config, language_id: str) -> None:
    case = cases_of(language_id).compile_error
    assert case is not None
    outcome = run(config, language_id, case.source)
    assert outcome.status is Status.COMPILE_ERROR, outcome.to_json()
    assert outcome.compile is not None and outcome.run is None
    output = (outcome.compile.stdout + outcome.compile.stderr).decode(errors="replace")
    for fragment in case.output:
        assert fragment in output, output

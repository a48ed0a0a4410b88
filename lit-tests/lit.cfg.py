# lit configuration for SimpleBPF's tool tests (sbpf-opt, frontends, dialect).
import os

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "SimpleBPF"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".appnet", ".test"]
config.excludes = ["Inputs", "lit.cfg.py", "lit.site.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.sbpf_obj_root, "lit-tests")

# Every FileCheck variable is scoped to its CHECK-LABEL block (as Triton does).
config.environment["FILECHECK_OPTS"] = "--enable-var-scope --dump-input=fail"

llvm_config.use_default_substitutions()
config.substitutions.append(("%examples", os.path.join(config.sbpf_src_root, "examples")))
config.substitutions.append(("%sbpf_src_root", config.sbpf_src_root))
config.substitutions.append(("%sbpf_obj_root", config.sbpf_obj_root))
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.add_tool_substitutions(
    [ToolSubst("sbpf-opt", unresolved="fatal"),
     ToolSubst("sbpf", unresolved="fatal")], [config.sbpf_tools_dir])

# eBPF C test inputs (shared/docs/toolchain.md: -g for BTF, the multiarch -I
# for asm/types.h, v3 for 32-bit jumps and ALU32).
config.substitutions.append(
    ("%clang_bpf", "clang-16 -O2 -g -target bpf -mcpu=v3 -I/usr/include/x86_64-linux-gnu"))

# Tests that load programs into the kernel say `REQUIRES: bpf-load`; without
# permission for BPF_PROG_LOAD they are reported UNSUPPORTED, never passed.
import subprocess
_sbpf = os.path.join(config.sbpf_tools_dir, "sbpf")
if os.path.exists(_sbpf) and subprocess.run(
        [_sbpf, "probe"], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL).returncode == 0:
    config.available_features.add("bpf-load")

# Tests that take tens of minutes (lit-tests/checker/mutation-arith.test: a
# sweep of a 64-bit long division per mutant) say `REQUIRES: long-tests`;
# `make check-long` runs them (SBPF_LONG_TESTS=1). `make check` reports them
# UNSUPPORTED, never passed.
if os.environ.get("SBPF_LONG_TESTS") == "1":
    config.available_features.add("long-tests")

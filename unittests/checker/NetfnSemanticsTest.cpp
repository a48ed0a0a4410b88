//===- NetfnSemanticsTest.cpp - the SMT meaning of netfn, tested ----------===//
//
// Concrete evaluation (through the encoding) of the AppNet examples and of
// small hand-written netfn programs, and solver queries over the encoding.
//
//===----------------------------------------------------------------------===//
#include "sbpf/AppNet/AppNetDomain.h"
#include "sbpf/Checker/ConcreteEval.h"
#include "sbpf/Checker/NetfnSemantics.h"
#include "sbpf/Netfn/Netfn.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace sbpf;
using namespace sbpf::checker;
using CV = sbpf::checker::ConcreteValue;

namespace {

class CheckerTest : public ::testing::Test {
protected:
  CheckerTest() {
    mlir::DialectRegistry registry;
    registry.insert<netfn::NetfnDialect>();
    ctx.appendDialectRegistry(registry);
    ctx.loadAllAvailableDialects();
  }

  mlir::ModuleOp parse(llvm::StringRef src) {
    modules.push_back(mlir::parseSourceString<mlir::ModuleOp>(src, &ctx));
    EXPECT_TRUE(modules.back()) << "failed to parse:\n" << src.str();
    return modules.back().get();
  }

  mlir::ModuleOp appnet(llvm::StringRef name) {
    std::string path = std::string(SBPF_EXAMPLES_DIR) + "/" + name.str() + ".appnet";
    auto buf = llvm::MemoryBuffer::getFile(path);
    EXPECT_TRUE(bool(buf)) << path;
    llvm::SourceMgr sm;
    sm.AddNewSourceBuffer(std::move(*buf), llvm::SMLoc());
    DomainOptions opts;
    opts.eventSchemaPath = std::string(SBPF_EXAMPLES_DIR) + "/rpc.proto";
    auto domain = appnet::createAppNetDomain();
    modules.push_back(domain->parse(sm, ctx, opts));
    EXPECT_TRUE(modules.back()) << "AppNet frontend failed on " << path;
    return modules.back().get();
  }

  static netfn::ProgramOp program(mlir::ModuleOp m) {
    netfn::ProgramOp p;
    m.walk([&](netfn::ProgramOp op) { p = op; });
    return p;
  }
  static netfn::HandlerOp handler(mlir::ModuleOp m, llvm::StringRef name) {
    netfn::HandlerOp h;
    m.walk([&](netfn::HandlerOp op) {
      if (op.getSymName() == name)
        h = op;
    });
    EXPECT_TRUE(h) << "no handler @" << name.str();
    return h;
  }

  ConcreteOutputs run(netfn::HandlerOp h, const ConcreteInputs &in) {
    auto out = evaluateHandler(h, in);
    if (!out) {
      ADD_FAILURE() << llvm::toString(out.takeError());
      return {};
    }
    return *out;
  }

  ConcreteState init(mlir::ModuleOp m) {
    auto s = evaluateInit(program(m));
    if (!s) {
      ADD_FAILURE() << llvm::toString(s.takeError());
      return {};
    }
    return *s;
  }

  mlir::MLIRContext ctx;
  std::vector<mlir::OwningOpRef<mlir::ModuleOp>> modules;
};

//===----------------------------------------------------------------------===//
// AppNet examples
//===----------------------------------------------------------------------===//

TEST_F(CheckerTest, ConcurrencyLimit) {
  auto m = appnet("concurrency_limit");
  ConcreteState s0 = init(m);
  EXPECT_EQ(s0.scalars.at("limit"), CV::integer(8));
  EXPECT_EQ(s0.scalars.at("in_flight"), CV::integer(0));

  ConcreteInputs in;
  in.state = s0;
  in.state.scalars["in_flight"] = CV::integer(7);
  ConcreteOutputs out = run(handler(m, "req"), in);
  EXPECT_TRUE(out.forwarded);
  EXPECT_EQ(out.state.scalars.at("in_flight"), CV::integer(8));
  EXPECT_EQ(out.state.scalars.at("rejected"), CV::integer(0));

  in.state.scalars["in_flight"] = CV::integer(8);
  in.state.scalars["rejected"] = CV::integer(3);
  out = run(handler(m, "req"), in);
  EXPECT_FALSE(out.forwarded);
  EXPECT_EQ(out.rejectReason, "too_many_in_flight");
  EXPECT_EQ(out.state.scalars.at("in_flight"), CV::integer(8));
  EXPECT_EQ(out.state.scalars.at("rejected"), CV::integer(4));

  in.state.scalars["in_flight"] = CV::integer(0);
  out = run(handler(m, "resp"), in);
  EXPECT_TRUE(out.forwarded);
  EXPECT_EQ(out.state.scalars.at("in_flight"), CV::integer(0));
  in.state.scalars["in_flight"] = CV::integer(5);
  out = run(handler(m, "resp"), in);
  EXPECT_EQ(out.state.scalars.at("in_flight"), CV::integer(4));
}

TEST_F(CheckerTest, UserAclByEvaluation) {
  auto m = appnet("user_acl");
  ConcreteState s0 = init(m);
  ASSERT_EQ(s0.maps.at("rules").size(), 2u);
  ConcreteInputs in;
  in.state = s0;
  in.fields["user"] = CV::string("mallory");
  ConcreteOutputs out = run(handler(m, "req"), in);
  EXPECT_FALSE(out.forwarded);
  EXPECT_EQ(out.rejectReason, "denied_by_acl");
  in.fields["user"] = CV::string("alice");
  EXPECT_TRUE(run(handler(m, "req"), in).forwarded);
  in.fields["user"] = CV::string("bob");
  EXPECT_TRUE(run(handler(m, "req"), in).forwarded);
  // The map is unchanged by lookups.
  EXPECT_EQ(run(handler(m, "req"), in).state.maps.at("rules").size(), 2u);
}

TEST_F(CheckerTest, UserAclBySolver) {
  auto m = appnet("user_acl");
  SemContext sc;
  SymbolicInputs initIn, in;
  initIn.prefix = "init.";
  auto s0 = encodeInit(sc, program(m), initIn);
  ASSERT_TRUE(bool(s0)) << llvm::toString(s0.takeError());
  in.state = *s0;
  in.assumptions = initIn.assumptions;
  auto sem = encodeHandler(sc, handler(m, "req"), in);
  ASSERT_TRUE(bool(sem)) << llvm::toString(sem.takeError());
  auto str32 = netfn::StringType::get(&ctx, 32);
  z3::expr user = in.fields.at("user");
  auto is = [&](const char *name) {
    return sc.valueEq(str32, user, str32, sc.stringValue(str32, name));
  };
  z3::expr rejected = sem->verdict != sc.z3().bv_val(0, 32);
  std::vector<z3::expr> q = in.assumptions;
  q.push_back(!is("alice") && !is("mallory") && rejected);
  EXPECT_EQ(solve(sc, q, 10000).status, SolverStatus::Unsat);
  // ... while mallory is always rejected, with the ACL's reason.
  q = in.assumptions;
  q.push_back(is("mallory") &&
              sem->verdict != sc.z3().bv_val(sc.reasons().code("denied_by_acl"), 32));
  EXPECT_EQ(solve(sc, q, 10000).status, SolverStatus::Unsat);
  q = in.assumptions;
  q.push_back(rejected);
  SolverResult r = solve(sc, q, 10000);
  EXPECT_EQ(r.status, SolverStatus::Sat);
}

TEST_F(CheckerTest, PaperFaultThreshold) {
  auto m = appnet("paper_fault");
  ConcreteState s0 = init(m);
  ASSERT_EQ(s0.scalars.at("prob").kind, CV::F64);
  EXPECT_EQ(s0.scalars.at("prob").f, 0.95);
  ConcreteInputs in;
  in.state = s0;
  in.draws = {0};
  ConcreteOutputs out = run(handler(m, "req"), in);
  EXPECT_TRUE(out.forwarded);
  EXPECT_EQ(out.drawsUsed, 1u);
  in.draws = {0xFFFFFFFFu};
  out = run(handler(m, "req"), in);
  EXPECT_FALSE(out.forwarded);
  EXPECT_EQ(out.rejectReason, "fault_injected");

  // r forwards iff r / 2^32 < 0.95, i.e. r < ceil(0.95 * 2^32).
  const uint64_t t = (uint64_t)std::ceil(0.95 * 4294967296.0);
  EXPECT_EQ(t, 4080218932u);
  in.draws = {(uint32_t)(t - 1)};
  EXPECT_TRUE(run(handler(m, "req"), in).forwarded);
  in.draws = {(uint32_t)t};
  EXPECT_FALSE(run(handler(m, "req"), in).forwarded);

  // And for every draw, by the solver, with prob from init's encoding.
  SemContext sc;
  SymbolicInputs initIn, sin;
  initIn.prefix = "init.";
  auto st = encodeInit(sc, program(m), initIn);
  ASSERT_TRUE(bool(st)) << llvm::toString(st.takeError());
  sin.state = *st;
  sin.assumptions = initIn.assumptions;
  auto sem = encodeHandler(sc, handler(m, "req"), sin);
  ASSERT_TRUE(bool(sem)) << llvm::toString(sem.takeError());
  ASSERT_GE(sin.draws.size(), 1u);
  z3::expr r = sin.draws[0];
  z3::expr fwd = sem->verdict == sc.z3().bv_val(0, 32);
  z3::expr below = z3::ult(r, sc.z3().bv_val(t, 32));
  std::vector<z3::expr> q = sin.assumptions;
  q.push_back(fwd != below);
  EXPECT_EQ(solve(sc, q, 20000).status, SolverStatus::Unsat);
}

TEST_F(CheckerTest, CountersByteTotal) {
  auto m = appnet("counters");
  ConcreteInputs in;
  in.state = init(m);
  in.state.scalars["byte_total"] = CV::integer(100);
  in.state.scalars["req_count"] = CV::integer(41);
  in.fields["body"] = CV::string("hello");
  ConcreteOutputs out = run(handler(m, "req"), in);
  EXPECT_TRUE(out.forwarded);
  EXPECT_EQ(out.state.scalars.at("byte_total"), CV::integer(105));
  EXPECT_EQ(out.state.scalars.at("req_count"), CV::integer(42));
  // Wraps at 2^32.
  in.state.scalars["byte_total"] = CV::integer(0xFFFFFFFEu);
  out = run(handler(m, "req"), in);
  EXPECT_EQ(out.state.scalars.at("byte_total"), CV::integer(3));
}

TEST_F(CheckerTest, LatencyLogAppendsAndDeletes) {
  auto m = appnet("latency_log");
  ConcreteInputs in;
  in.fields["rpc_id"] = CV::integer(7);
  in.clocks = {1000};
  ConcreteOutputs out = run(handler(m, "req"), in);
  ASSERT_EQ(out.state.maps.at("started").size(), 1u);
  EXPECT_EQ(out.state.maps.at("started")[0].first, CV::integer(7));
  EXPECT_EQ(out.state.maps.at("started")[0].second, CV::integer(1000));

  in.state = out.state;
  in.clocks = {1000 + 2500000000ull};
  out = run(handler(m, "resp"), in);
  EXPECT_TRUE(out.forwarded);
  EXPECT_TRUE(out.state.maps.at("started").empty());
  ASSERT_EQ(out.appended.at("samples").size(), 1u);
  EXPECT_EQ(out.appended.at("samples")[0][0], CV::f64(2.5));
  // Not enough clock readings is an error, not a guess.
  in.clocks = {};
  EXPECT_FALSE(bool(evaluateHandler(handler(m, "resp"), in)));
  llvm::consumeError(evaluateHandler(handler(m, "resp"), in).takeError());
}

TEST_F(CheckerTest, ScrambleXorIsAnInvolution) {
  auto m = appnet("scramble");
  ConcreteInputs in;
  in.state = init(m);
  in.fields["body"] = CV::string("hello world");
  ConcreteOutputs out = run(handler(m, "req"), in);
  std::string expect = "hello world";
  const std::string key = "k3y";
  for (size_t i = 0; i < expect.size(); ++i)
    expect[i] ^= key[i % key.size()];
  EXPECT_EQ(out.fields.at("body"), CV::string(expect));
  in.fields["body"] = out.fields.at("body");
  EXPECT_EQ(run(handler(m, "resp"), in).fields.at("body"),
            CV::string("hello world"));
}

//===----------------------------------------------------------------------===//
// Hand-written netfn: corner cases of the op meanings
//===----------------------------------------------------------------------===//

const char *kArith = R"mlir(
netfn.program @arith {
  netfn.event @e "test" (a : ui32, b : ui32, sa : si32, sb : si32)
  netfn.state @udiv : ui32
  netfn.state @urem : ui32
  netfn.state @sdiv : si32
  netfn.state @srem : si32
  netfn.state @add : ui32
  netfn.state @sub : ui32
  netfn.state @mul : si32
  netfn.state @slt : i1
  netfn.state @ult : i1
  netfn.state @smin : si32
  netfn.state @umax : ui32
  netfn.handler @h on @e {
    %a = netfn.field.get "a" : ui32
    %b = netfn.field.get "b" : ui32
    %sa = netfn.field.get "sa" : si32
    %sb = netfn.field.get "sb" : si32
    %0 = netfn.div %a, %b : ui32
    netfn.state.write @udiv, %0 : ui32
    %1 = netfn.rem %a, %b : ui32
    netfn.state.write @urem, %1 : ui32
    %2 = netfn.div %sa, %sb : si32
    netfn.state.write @sdiv, %2 : si32
    %3 = netfn.rem %sa, %sb : si32
    netfn.state.write @srem, %3 : si32
    %4 = netfn.add %a, %b : ui32
    netfn.state.write @add, %4 : ui32
    %5 = netfn.sub %a, %b : ui32
    netfn.state.write @sub, %5 : ui32
    %6 = netfn.mul %sa, %sb : si32
    netfn.state.write @mul, %6 : si32
    %7 = netfn.cmp lt, %sa, %sb : si32
    netfn.state.write @slt, %7 : i1
    %8 = netfn.cmp lt, %a, %b : ui32
    netfn.state.write @ult, %8 : i1
    %9 = netfn.min %sa, %sb : si32
    netfn.state.write @smin, %9 : si32
    %10 = netfn.max %a, %b : ui32
    netfn.state.write @umax, %10 : ui32
    netfn.forward
  }
}
)mlir";

TEST_F(CheckerTest, IntegerDivisionAndRemainder) {
  auto m = parse(kArith);
  auto h = handler(m, "h");
  ConcreteInputs in;
  auto u = [](uint32_t v) { return CV::integer(v); };
  auto s = [](int32_t v) { return CV::integer((uint32_t)v); };
  in.fields = {{"a", u(7)}, {"b", u(0)}, {"sa", s(INT32_MIN)}, {"sb", s(-1)}};
  ConcreteOutputs out = run(h, in);
  EXPECT_EQ(out.state.scalars.at("udiv"), u(0)) << "x / 0 = 0";
  EXPECT_EQ(out.state.scalars.at("urem"), u(7)) << "x % 0 = x";
  EXPECT_EQ(out.state.scalars.at("sdiv"), s(INT32_MIN)) << "MIN / -1 = MIN";
  EXPECT_EQ(out.state.scalars.at("srem"), s(0)) << "MIN % -1 = 0";
  EXPECT_EQ(out.state.scalars.at("mul"), s(INT32_MIN)) << "MIN * -1 wraps";
  EXPECT_EQ(out.state.scalars.at("sub"), u(7));

  in.fields = {{"a", u(0xFFFFFFFFu)}, {"b", u(1)}, {"sa", s(-7)}, {"sb", s(2)}};
  out = run(h, in);
  EXPECT_EQ(out.state.scalars.at("add"), u(0)) << "wraps";
  EXPECT_EQ(out.state.scalars.at("sdiv"), s(-3)) << "truncates toward zero";
  EXPECT_EQ(out.state.scalars.at("srem"), s(-1)) << "sign of the dividend";
  EXPECT_EQ(out.state.scalars.at("slt"), CV::boolean(true));
  EXPECT_EQ(out.state.scalars.at("ult"), CV::boolean(false));
  EXPECT_EQ(out.state.scalars.at("smin"), s(-7));
  EXPECT_EQ(out.state.scalars.at("umax"), u(0xFFFFFFFFu));

  in.fields = {{"a", u(0)}, {"b", u(1)}, {"sa", s(7)}, {"sb", s(-2)}};
  out = run(h, in);
  EXPECT_EQ(out.state.scalars.at("sub"), u(0xFFFFFFFFu)) << "wraps below 0";
  EXPECT_EQ(out.state.scalars.at("sdiv"), s(-3));
  EXPECT_EQ(out.state.scalars.at("srem"), s(1));
  EXPECT_EQ(out.state.scalars.at("slt"), CV::boolean(false));

  in.fields = {{"a", u(17)}, {"b", u(5)}, {"sa", s(-8)}, {"sb", s(0)}};
  out = run(h, in);
  EXPECT_EQ(out.state.scalars.at("udiv"), u(3));
  EXPECT_EQ(out.state.scalars.at("urem"), u(2));
  EXPECT_EQ(out.state.scalars.at("sdiv"), s(0));
  EXPECT_EQ(out.state.scalars.at("srem"), s(-8));
}

const char *kCasts = R"mlir(
netfn.program @casts {
  netfn.event @e "test" (s8 : si8, u8 : ui8, s32 : si32, u64 : ui64, f : f64, flag : i1)
  netfn.state @s8_to_s32 : si32
  netfn.state @u8_to_s32 : si32
  netfn.state @s8_to_u32 : ui32
  netfn.state @s32_to_u8 : ui8
  netfn.state @u64_to_u32 : ui32
  netfn.state @f_to_s32 : si32
  netfn.state @f_to_u32 : ui32
  netfn.state @f_to_fx : !netfn.fixed<32, 16>
  netfn.state @s32_to_f : f64
  netfn.state @flag_to_u8 : ui8
  netfn.state @fx_to_s32 : si32
  netfn.handler @h on @e {
    %s8 = netfn.field.get "s8" : si8
    %u8 = netfn.field.get "u8" : ui8
    %s32 = netfn.field.get "s32" : si32
    %u64 = netfn.field.get "u64" : ui64
    %f = netfn.field.get "f" : f64
    %flag = netfn.field.get "flag" : i1
    %0 = netfn.cast %s8 : si8 to si32
    netfn.state.write @s8_to_s32, %0 : si32
    %1 = netfn.cast %u8 : ui8 to si32
    netfn.state.write @u8_to_s32, %1 : si32
    %2 = netfn.cast %s8 : si8 to ui32
    netfn.state.write @s8_to_u32, %2 : ui32
    %3 = netfn.cast %s32 : si32 to ui8
    netfn.state.write @s32_to_u8, %3 : ui8
    %4 = netfn.cast %u64 : ui64 to ui32
    netfn.state.write @u64_to_u32, %4 : ui32
    %5 = netfn.cast %f : f64 to si32
    netfn.state.write @f_to_s32, %5 : si32
    %6 = netfn.cast %f : f64 to ui32
    netfn.state.write @f_to_u32, %6 : ui32
    %7 = netfn.cast %f : f64 to !netfn.fixed<32, 16>
    netfn.state.write @f_to_fx, %7 : !netfn.fixed<32, 16>
    %8 = netfn.cast %s32 : si32 to f64
    netfn.state.write @s32_to_f, %8 : f64
    %9 = netfn.cast %flag : i1 to ui8
    netfn.state.write @flag_to_u8, %9 : ui8
    %10 = netfn.cast %7 : !netfn.fixed<32, 16> to si32
    netfn.state.write @fx_to_s32, %10 : si32
    netfn.forward
  }
}
)mlir";

TEST_F(CheckerTest, Casts) {
  auto m = parse(kCasts);
  auto h = handler(m, "h");
  ConcreteInputs in;
  in.fields = {{"s8", CV::integer(0xFF)},     // -1
               {"u8", CV::integer(0xFF)},     // 255
               {"s32", CV::integer(0x12345678)},
               {"u64", CV::integer(0x1122334455667788ull)},
               {"f", CV::f64(-3.75)},
               {"flag", CV::boolean(true)}};
  ConcreteOutputs out = run(h, in);
  auto &st = out.state.scalars;
  EXPECT_EQ(st.at("s8_to_s32"), CV::integer(0xFFFFFFFFu)) << "sign-extends si8";
  EXPECT_EQ(st.at("u8_to_s32"), CV::integer(255)) << "zero-extends ui8";
  EXPECT_EQ(st.at("s8_to_u32"), CV::integer(0xFFFFFFFFu)) << "by source signedness";
  EXPECT_EQ(st.at("s32_to_u8"), CV::integer(0x78)) << "truncates";
  EXPECT_EQ(st.at("u64_to_u32"), CV::integer(0x55667788u));
  EXPECT_EQ(st.at("f_to_s32").asSigned(32), -3) << "toward zero";
  EXPECT_EQ(st.at("f_to_u32"), CV::integer(0)) << "saturates at 0";
  EXPECT_EQ(st.at("f_to_fx").asSigned(32), -3 * 65536 - 49152) << "-3.75 * 2^16";
  EXPECT_EQ(st.at("fx_to_s32").asSigned(32), -4) << "shift toward -inf";
  EXPECT_EQ(st.at("s32_to_f"), CV::f64(305419896.0));
  EXPECT_EQ(st.at("flag_to_u8"), CV::integer(1));

  in.fields["f"] = CV::f64(1e20);
  out = run(h, in);
  EXPECT_EQ(out.state.scalars.at("f_to_s32"), CV::integer(0x7FFFFFFF));
  EXPECT_EQ(out.state.scalars.at("f_to_u32"), CV::integer(0xFFFFFFFFu));
  EXPECT_EQ(out.state.scalars.at("f_to_fx"), CV::integer(0x7FFFFFFF));
  in.fields["f"] = CV::f64(-1e20);
  out = run(h, in);
  EXPECT_EQ(out.state.scalars.at("f_to_s32"), CV::integer(0x80000000u));
  in.fields["f"] = CV::f64(std::numeric_limits<double>::quiet_NaN());
  out = run(h, in);
  EXPECT_EQ(out.state.scalars.at("f_to_s32"), CV::integer(0)) << "NaN to 0";
  EXPECT_EQ(out.state.scalars.at("f_to_u32"), CV::integer(0));
  EXPECT_EQ(out.state.scalars.at("f_to_fx"), CV::integer(0));
  in.fields["f"] = CV::f64(4294967295.9);
  out = run(h, in);
  EXPECT_EQ(out.state.scalars.at("f_to_u32"), CV::integer(0xFFFFFFFFu));
}

const char *kStrings = R"mlir(
netfn.program @strings {
  netfn.event @e "test" (s8 : !netfn.string<8>, s32 : !netfn.string<32>, key : !netfn.string<4>)
  netfn.state @eq : i1
  netfn.state @eq_const : i1
  netfn.state @short : !netfn.string<4>
  netfn.state @xored : !netfn.string<8>
  netfn.state @len : ui32
  netfn.handler @h on @e {
    %s8 = netfn.field.get "s8" : !netfn.string<8>
    %s32 = netfn.field.get "s32" : !netfn.string<32>
    %key = netfn.field.get "key" : !netfn.string<4>
    %w = netfn.cast %s8 : !netfn.string<8> to !netfn.string<32>
    %eq = netfn.cmp eq, %w, %s32 : !netfn.string<32>
    netfn.state.write @eq, %eq : i1
    %c = netfn.const "abc" : !netfn.string<8>
    %eqc = netfn.cmp eq, %s8, %c : !netfn.string<8>
    netfn.state.write @eq_const, %eqc : i1
    %short = netfn.cast %s32 : !netfn.string<32> to !netfn.string<4>
    netfn.state.write @short, %short : !netfn.string<4>
    %x = netfn.string.xor %s8, %key : !netfn.string<8>, !netfn.string<4>
    netfn.state.write @xored, %x : !netfn.string<8>
    %l = netfn.string.len %s32 : !netfn.string<32>
    netfn.state.write @len, %l : ui32
    netfn.forward
  }
}
)mlir";

TEST_F(CheckerTest, Strings) {
  auto m = parse(kStrings);
  auto h = handler(m, "h");
  ConcreteInputs in;
  in.fields = {{"s8", CV::string("abc")},
               {"s32", CV::string("abc")},
               {"key", CV::string("\x01\x02")}};
  ConcreteOutputs out = run(h, in);
  auto &st = out.state.scalars;
  EXPECT_EQ(st.at("eq"), CV::boolean(true)) << "content equality across capacities";
  EXPECT_EQ(st.at("eq_const"), CV::boolean(true));
  EXPECT_EQ(st.at("short"), CV::string("abc"));
  EXPECT_EQ(st.at("xored"), CV::string(std::string{'a' ^ 1, 'b' ^ 2, 'c' ^ 1}));
  EXPECT_EQ(st.at("len"), CV::integer(3));

  in.fields = {{"s8", CV::string("abc")},
               {"s32", CV::string("abcd")},
               {"key", CV::string("")}};
  out = run(h, in);
  EXPECT_EQ(out.state.scalars.at("eq"), CV::boolean(false)) << "a prefix is not equal";
  EXPECT_EQ(out.state.scalars.at("xored"), CV::string("abc")) << "empty key";
  in.fields["s32"] = CV::string("abcdefgh");
  out = run(h, in);
  EXPECT_EQ(out.state.scalars.at("short"), CV::string("abcd")) << "truncates";
  EXPECT_EQ(out.state.scalars.at("len"), CV::integer(8));

  // The same facts, for every input, from the encoding itself.
  SemContext sc;
  auto s8 = netfn::StringType::get(&ctx, 8), s64 = netfn::StringType::get(&ctx, 64);
  z3::expr a = sc.stringValue(s8, "deny"), b = sc.stringValue(s64, "deny");
  EXPECT_TRUE(sc.valueEq(s8, a, s64, b).simplify().is_true());
  EXPECT_TRUE(sc.valueEq(s8, a, s64, sc.stringValue(s64, "deny!")).simplify().is_false());
}

const char *kFixed = R"mlir(
netfn.program @fixed {
  netfn.event @e "test" (a : !netfn.fixed<32, 16>, b : !netfn.fixed<32, 16>)
  netfn.state @mul : !netfn.fixed<32, 16>
  netfn.state @div : !netfn.fixed<32, 16>
  netfn.state @wide : !netfn.fixed<64, 32>
  netfn.state @f : f64
  netfn.handler @h on @e {
    %a = netfn.field.get "a" : !netfn.fixed<32, 16>
    %b = netfn.field.get "b" : !netfn.fixed<32, 16>
    %m = netfn.mul %a, %b : !netfn.fixed<32, 16>
    netfn.state.write @mul, %m : !netfn.fixed<32, 16>
    %d = netfn.div %a, %b : !netfn.fixed<32, 16>
    netfn.state.write @div, %d : !netfn.fixed<32, 16>
    %w = netfn.cast %a : !netfn.fixed<32, 16> to !netfn.fixed<64, 32>
    netfn.state.write @wide, %w : !netfn.fixed<64, 32>
    %f = netfn.cast %a : !netfn.fixed<32, 16> to f64
    netfn.state.write @f, %f : f64
    netfn.forward
  }
}
)mlir";

TEST_F(CheckerTest, FixedPoint) {
  auto m = parse(kFixed);
  auto h = handler(m, "h");
  auto fx = [](int64_t raw) { return CV::integer((uint32_t)(int32_t)raw); };
  ConcreteInputs in;
  in.fields = {{"a", fx(98304)}, {"b", fx(147456)}}; // 1.5, 2.25
  ConcreteOutputs out = run(h, in);
  EXPECT_EQ(out.state.scalars.at("mul"), fx(221184)) << "1.5 * 2.25 = 3.375";
  EXPECT_EQ(out.state.scalars.at("div"), fx(43690)) << "1.5 / 2.25 = 0.6666 (toward 0)";
  EXPECT_EQ(out.state.scalars.at("wide"), CV::integer(98304ull << 16));
  EXPECT_EQ(out.state.scalars.at("f"), CV::f64(1.5));

  in.fields = {{"a", fx(-1)}, {"b", fx(32768)}}; // -2^-16 * 0.5
  out = run(h, in);
  EXPECT_EQ(out.state.scalars.at("mul"), fx(-1)) << "rounds toward -inf";
  EXPECT_EQ(out.state.scalars.at("div"), fx(-2));
  EXPECT_EQ(out.state.scalars.at("wide").asSigned(64), -65536);

  in.fields = {{"a", fx(-98304)}, {"b", fx(0)}};
  out = run(h, in);
  EXPECT_EQ(out.state.scalars.at("div"), fx(0)) << "x / 0 = 0";
  EXPECT_EQ(out.state.scalars.at("mul"), fx(0));
  in.fields = {{"a", fx(-98304)}, {"b", fx(65536 * 4)}}; // -1.5 / 4
  out = run(h, in);
  EXPECT_EQ(out.state.scalars.at("div"), fx(-24576));
  EXPECT_EQ(out.state.scalars.at("mul"), fx(-393216));
}

const char *kControl = R"mlir(
netfn.program @control {
  netfn.event @e "test" (a : ui32, b : ui32, name : !netfn.string<8>)
  netfn.state @before : ui32
  netfn.state @after : ui32
  netfn.state @arm : ui32
  netfn.state @name_arm : ui32
  netfn.handler @h on @e {
    %a = netfn.field.get "a" : ui32
    %b = netfn.field.get "b" : ui32
    %n = netfn.field.get "name" : !netfn.string<8>
    %r = netfn.match %a : ui32 -> (ui32) case 1 {
      %x = netfn.const 10 : ui32
      netfn.yield %x : ui32
    } case 2 {
      %x = netfn.const 20 : ui32
      netfn.yield %x : ui32
    } default {
      %x = netfn.const 99 : ui32
      netfn.yield %x : ui32
    }
    netfn.state.write @arm, %r : ui32
    %na = netfn.match %n : !netfn.string<8> -> (ui32) case "x" {
      %x = netfn.const 1 : ui32
      netfn.yield %x : ui32
    } case "xy" {
      %x = netfn.const 2 : ui32
      netfn.yield %x : ui32
    } default {
      %x = netfn.const 0 : ui32
      netfn.yield %x : ui32
    }
    netfn.state.write @name_arm, %na : ui32
    %ten = netfn.const 10 : ui32
    %five = netfn.const 5 : ui32
    %c1 = netfn.cmp gt, %a, %ten : ui32
    netfn.if %c1 {
      netfn.state.write @before, %a : ui32
      %c2 = netfn.cmp gt, %b, %five : ui32
      netfn.if %c2 {
        netfn.reject "nested_exit"
      } else {
        netfn.yield
      }
      netfn.yield
    } else {
      netfn.yield
    }
    %one = netfn.const 1 : ui32
    netfn.state.write @after, %one : ui32
    netfn.forward
  }
}
)mlir";

TEST_F(CheckerTest, MatchAndEarlyExit) {
  auto m = parse(kControl);
  auto h = handler(m, "h");
  ConcreteInputs in;
  in.fields = {{"a", CV::integer(2)}, {"b", CV::integer(0)}, {"name", CV::string("xy")}};
  ConcreteOutputs out = run(h, in);
  EXPECT_TRUE(out.forwarded);
  EXPECT_EQ(out.state.scalars.at("arm"), CV::integer(20));
  EXPECT_EQ(out.state.scalars.at("name_arm"), CV::integer(2));
  EXPECT_EQ(out.state.scalars.at("after"), CV::integer(1));
  in.fields["a"] = CV::integer(1);
  in.fields["name"] = CV::string("x");
  out = run(h, in);
  EXPECT_EQ(out.state.scalars.at("arm"), CV::integer(10));
  EXPECT_EQ(out.state.scalars.at("name_arm"), CV::integer(1));
  in.fields["a"] = CV::integer(3);
  in.fields["name"] = CV::string("xyz");
  out = run(h, in);
  EXPECT_EQ(out.state.scalars.at("arm"), CV::integer(99));
  EXPECT_EQ(out.state.scalars.at("name_arm"), CV::integer(0));

  // A verdict two regions deep ends the handler: the later write is skipped,
  // the earlier one kept.
  in.fields = {{"a", CV::integer(11)}, {"b", CV::integer(6)}, {"name", CV::string("")}};
  out = run(h, in);
  EXPECT_FALSE(out.forwarded);
  EXPECT_EQ(out.rejectReason, "nested_exit");
  EXPECT_EQ(out.state.scalars.at("before"), CV::integer(11));
  EXPECT_EQ(out.state.scalars.at("after"), CV::integer(0));
  in.fields["b"] = CV::integer(5);
  out = run(h, in);
  EXPECT_TRUE(out.forwarded);
  EXPECT_EQ(out.state.scalars.at("before"), CV::integer(11));
  EXPECT_EQ(out.state.scalars.at("after"), CV::integer(1));
}

const char *kLoop = R"mlir(
netfn.program @loop {
  netfn.event @e "test" (x : ui32)
  netfn.state @samples : !netfn.log<ui32>
  netfn.state @sum : ui32
  netfn.state @count : ui32
  netfn.handler @h on @e {
    %zero = netfn.const 0 : ui32
    %bad = netfn.const 42 : ui32
    %one = netfn.const 1 : ui32
    %s, %k = netfn.foreach @samples bound 3 iter(%zero, %zero) : (ui32, ui32) -> (ui32, ui32) {
    ^bb0(%v: ui32, %acc: ui32, %cnt: ui32):
      %is_bad = netfn.cmp eq, %v, %bad : ui32
      netfn.if %is_bad {
        netfn.reject "bad_sample"
      } else {
        netfn.yield
      }
      %n = netfn.add %acc, %v : ui32
      %c = netfn.add %cnt, %one : ui32
      netfn.yield %n, %c : ui32, ui32
    }
    netfn.state.write @sum, %s : ui32
    netfn.state.write @count, %k : ui32
    %x = netfn.field.get "x" : ui32
    netfn.log.append @samples(%x) : ui32
    netfn.forward
  }
}
)mlir";

TEST_F(CheckerTest, ForeachBound) {
  auto m = parse(kLoop);
  auto h = handler(m, "h");
  ConcreteInputs in;
  in.fields["x"] = CV::integer(7);
  for (uint64_t v : {1, 2, 3, 4, 5})
    in.state.logs["samples"].push_back({CV::integer(v)});
  ConcreteOutputs out = run(h, in);
  EXPECT_TRUE(out.forwarded);
  EXPECT_EQ(out.state.scalars.at("sum"), CV::integer(6)) << "first 3 records only";
  EXPECT_EQ(out.state.scalars.at("count"), CV::integer(3));
  ASSERT_EQ(out.appended.at("samples").size(), 1u);
  EXPECT_EQ(out.appended.at("samples")[0][0], CV::integer(7));
  EXPECT_EQ(out.state.logs.at("samples").size(), 6u);

  in.state.logs["samples"] = {{CV::integer(4)}, {CV::integer(5)}};
  out = run(h, in);
  EXPECT_EQ(out.state.scalars.at("sum"), CV::integer(9)) << "min(size, bound)";
  EXPECT_EQ(out.state.scalars.at("count"), CV::integer(2));
  in.state.logs["samples"] = {};
  out = run(h, in);
  EXPECT_EQ(out.state.scalars.at("sum"), CV::integer(0));
  EXPECT_EQ(out.state.scalars.at("count"), CV::integer(0));

  // A verdict in the body ends the handler; a record past the bound is
  // never seen.
  in.state.logs["samples"] = {{CV::integer(1)}, {CV::integer(42)}};
  out = run(h, in);
  EXPECT_FALSE(out.forwarded);
  EXPECT_EQ(out.rejectReason, "bad_sample");
  EXPECT_TRUE(out.appended.at("samples").empty());
  in.state.logs["samples"] = {{CV::integer(1)}, {CV::integer(2)}, {CV::integer(3)},
                              {CV::integer(42)}};
  EXPECT_TRUE(run(h, in).forwarded);
}

const char *kMaps = R"mlir(
netfn.program @maps {
  netfn.event @e "test" (k : ui32, v : ui32)
  netfn.state @m : !netfn.map<ui32, ui32, 2>
  netfn.handler @set on @e {
    %k = netfn.field.get "k" : ui32
    %v = netfn.field.get "v" : ui32
    netfn.map.set @m[%k], %v : ui32, ui32
    netfn.forward
  }
  netfn.handler @set2 on @e {
    %k = netfn.field.get "k" : ui32
    %v = netfn.field.get "v" : ui32
    netfn.map.set @m[%k], %v : ui32, ui32
    %one = netfn.const 1 : ui32
    %k2 = netfn.add %k, %one : ui32
    netfn.map.set @m[%k2], %v : ui32, ui32
    netfn.forward
  }
  netfn.handler @del on @e {
    %k = netfn.field.get "k" : ui32
    netfn.map.delete @m[%k] : ui32
    netfn.forward
  }
}
)mlir";

TEST_F(CheckerTest, MapCapacity) {
  auto m = parse(kMaps);
  ConcreteInputs in;
  in.state.maps["m"] = {{CV::integer(1), CV::integer(10)}, {CV::integer(2), CV::integer(20)}};
  in.fields = {{"k", CV::integer(3)}, {"v", CV::integer(30)}};
  ConcreteOutputs out = run(handler(m, "set"), in);
  EXPECT_EQ(out.state.maps.at("m").size(), 2u) << "full map, new key: unchanged";
  in.fields = {{"k", CV::integer(2)}, {"v", CV::integer(21)}};
  out = run(handler(m, "set"), in);
  ASSERT_EQ(out.state.maps.at("m").size(), 2u);
  for (auto &[k, v] : out.state.maps.at("m")) {
    if (k == CV::integer(2)) {
      EXPECT_EQ(v, CV::integer(21)) << "an existing key is replaced";
    }
  }
  out = run(handler(m, "del"), in);
  ASSERT_EQ(out.state.maps.at("m").size(), 1u);
  in.state = out.state;
  in.fields = {{"k", CV::integer(3)}, {"v", CV::integer(30)}};
  out = run(handler(m, "set"), in);
  EXPECT_EQ(out.state.maps.at("m").size(), 2u) << "room again after delete";

  // Two inserts in one run: the second finds the map full.
  in.state.maps["m"] = {{CV::integer(1), CV::integer(10)}};
  in.fields = {{"k", CV::integer(5)}, {"v", CV::integer(50)}};
  out = run(handler(m, "set2"), in);
  ASSERT_EQ(out.state.maps.at("m").size(), 2u);
  bool has5 = false, has6 = false;
  for (auto &[k, v] : out.state.maps.at("m")) {
    has5 |= k == CV::integer(5);
    has6 |= k == CV::integer(6);
  }
  EXPECT_TRUE(has5);
  EXPECT_FALSE(has6);
}

const char *kValues = R"mlir(
netfn.program @values {
  netfn.event @e "test" (x : f64, y : f64, p : ui32, q : ui32, t : ui64, b : i1)
  netfn.state @fmin : f64
  netfn.state @fmax : f64
  netfn.state @flt : i1
  netfn.state @feq : i1
  netfn.state @fne : i1
  netfn.state @pair : !netfn.pair<ui32, f64>
  netfn.state @swapped : ui32
  netfn.state @bits : ui32
  netfn.state @logic : i1
  netfn.state @t : !netfn.instant
  netfn.state @opt : ui32
  netfn.state @n : ui64
  netfn.state @m : !netfn.map<!netfn.pair<ui32, ui32>, ui32, 8>
  netfn.state @log : !netfn.log<ui32, f64>
  netfn.handler @h on @e {
    %x = netfn.field.get "x" : f64
    %y = netfn.field.get "y" : f64
    %p = netfn.field.get "p" : ui32
    %q = netfn.field.get "q" : ui32
    %t = netfn.field.get "t" : ui64
    %b = netfn.field.get "b" : i1
    %0 = netfn.min %x, %y : f64
    netfn.state.write @fmin, %0 : f64
    %1 = netfn.max %x, %y : f64
    netfn.state.write @fmax, %1 : f64
    %2 = netfn.cmp lt, %x, %y : f64
    netfn.state.write @flt, %2 : i1
    %3 = netfn.cmp eq, %x, %x : f64
    netfn.state.write @feq, %3 : i1
    %4 = netfn.cmp ne, %x, %x : f64
    netfn.state.write @fne, %4 : i1
    %pr = netfn.pair %p, %x : ui32, f64 -> !netfn.pair<ui32, f64>
    netfn.state.write @pair, %pr : !netfn.pair<ui32, f64>
    %f = netfn.first %pr : !netfn.pair<ui32, f64>
    %nb = netfn.not %b : i1
    %sel = netfn.select %nb, %f, %q : ui32
    netfn.state.write @swapped, %sel : ui32
    %a1 = netfn.and %p, %q : ui32
    %o1 = netfn.or %a1, %q : ui32
    %x1 = netfn.xor %o1, %p : ui32
    netfn.state.write @bits, %x1 : ui32
    %l1 = netfn.xor %b, %nb : i1
    %l2 = netfn.and %l1, %b : i1
    %l3 = netfn.or %l2, %nb : i1
    netfn.state.write @logic, %l3 : i1
    %ti = netfn.cast %t : ui64 to !netfn.instant
    netfn.state.write @t, %ti : !netfn.instant
    %key = netfn.pair %p, %q : ui32, ui32 -> !netfn.pair<ui32, ui32>
    netfn.map.set @m[%key], %q : !netfn.pair<ui32, ui32>, ui32
    %key2 = netfn.pair %p, %q : ui32, ui32 -> !netfn.pair<ui32, ui32>
    %o = netfn.map.get @m[%key2] : !netfn.pair<ui32, ui32> -> !netfn.option<ui32>
    %got = netfn.match_option %o : !netfn.option<ui32> -> (ui32) some(%v) {
      netfn.yield %v : ui32
    } none {
      %z = netfn.const 12345 : ui32
      netfn.yield %z : ui32
    }
    netfn.state.write @opt, %got : ui32
    netfn.log.append @log(%p, %x) : ui32, f64
    netfn.log.append @log(%q, %y) : ui32, f64
    %n = netfn.log.size @log : ui64
    netfn.state.write @n, %n : ui64
    netfn.forward
  }
}
)mlir";

TEST_F(CheckerTest, FloatsPairsOptionsLogs) {
  auto m = parse(kValues);
  auto h = handler(m, "h");
  const double nan = std::numeric_limits<double>::quiet_NaN();
  ConcreteInputs in;
  in.fields = {{"x", CV::f64(nan)},      {"y", CV::f64(1.0)},
               {"p", CV::integer(0xC)},  {"q", CV::integer(0xA)},
               {"t", CV::integer(99)},   {"b", CV::boolean(true)}};
  in.state.logs["log"] = {{CV::integer(1), CV::f64(0.5)}};
  ConcreteOutputs out = run(h, in);
  auto &st = out.state.scalars;
  EXPECT_EQ(st.at("fmin"), CV::f64(1.0)) << "min(NaN, b) = b";
  EXPECT_EQ(st.at("fmax"), CV::f64(1.0)) << "max(NaN, b) = b";
  EXPECT_EQ(st.at("flt"), CV::boolean(false)) << "ordered comparison with NaN";
  EXPECT_EQ(st.at("feq"), CV::boolean(false)) << "NaN equals nothing";
  EXPECT_EQ(st.at("fne"), CV::boolean(true));
  ASSERT_EQ(st.at("pair").kind, CV::Pair);
  EXPECT_EQ(st.at("pair").elems[0], CV::integer(0xC));
  EXPECT_TRUE(std::isnan(st.at("pair").elems[1].f));
  EXPECT_EQ(st.at("swapped"), CV::integer(0xA)) << "select on !b";
  EXPECT_EQ(st.at("bits"), CV::integer(((0xC & 0xA) | 0xA) ^ 0xC));
  EXPECT_EQ(st.at("logic"), CV::boolean(true));
  EXPECT_EQ(st.at("t"), CV::integer(99));
  EXPECT_EQ(st.at("opt"), CV::integer(0xA)) << "map keyed by pairs";
  EXPECT_EQ(st.at("n"), CV::integer(3));
  ASSERT_EQ(out.appended.at("log").size(), 2u);
  EXPECT_EQ(out.appended.at("log")[1][0], CV::integer(0xA));
  EXPECT_EQ(out.appended.at("log")[1][1], CV::f64(1.0));
  EXPECT_EQ(out.state.logs.at("log").size(), 3u);

  in.fields["x"] = CV::f64(-0.0);
  in.fields["y"] = CV::f64(0.0);
  out = run(h, in);
  EXPECT_EQ(out.state.scalars.at("feq"), CV::boolean(true));
  EXPECT_EQ(out.state.scalars.at("flt"), CV::boolean(false)) << "-0 < +0 is false";
  EXPECT_EQ(out.state.scalars.at("fmin"), CV::f64(0.0)) << "a < b ? a : b";
}

TEST_F(CheckerTest, Bitcast) {
  auto m = parse(R"mlir(
netfn.program @bc {
  netfn.event @e "test" (r : ui32)
  netfn.state @half : i1
  netfn.state @raw : ui64
  netfn.handler @h on @e {
    %r = netfn.field.get "r" : ui32
    %r64 = netfn.cast %r : ui32 to ui64
    %u = netfn.bitcast %r64 : ui64 to !netfn.fixed<64, 32>
    %h = netfn.const raw(2147483648) : !netfn.fixed<64, 32>
    %lt = netfn.cmp lt, %u, %h : !netfn.fixed<64, 32>
    netfn.state.write @half, %lt : i1
    %back = netfn.bitcast %u : !netfn.fixed<64, 32> to ui64
    netfn.state.write @raw, %back : ui64
    netfn.forward
  }
}
)mlir");
  ConcreteInputs in;
  in.fields["r"] = CV::integer(0x7FFFFFFF);
  ConcreteOutputs out = run(handler(m, "h"), in);
  EXPECT_EQ(out.state.scalars.at("half"), CV::boolean(true)) << "r / 2^32 < 0.5";
  EXPECT_EQ(out.state.scalars.at("raw"), CV::integer(0x7FFFFFFF));
  in.fields["r"] = CV::integer(0x80000000u);
  EXPECT_EQ(run(handler(m, "h"), in).state.scalars.at("half"), CV::boolean(false));
}

TEST_F(CheckerTest, MoreExamples) {
  // first_seen: the first request of a user gets the next tag.
  auto fs = appnet("first_seen");
  ConcreteInputs in;
  in.state = init(fs);
  in.state.scalars["assigned"] = CV::integer(5);
  in.fields["user"] = CV::string("carol");
  ConcreteOutputs out = run(handler(fs, "req"), in);
  ASSERT_EQ(out.state.maps.at("sticky").size(), 1u);
  EXPECT_EQ(out.state.maps.at("sticky")[0].first, CV::string("carol"));
  EXPECT_EQ(out.state.maps.at("sticky")[0].second, CV::integer(5));
  EXPECT_EQ(out.state.scalars.at("assigned"), CV::integer(6));
  in.state = out.state;
  out = run(handler(fs, "req"), in);
  EXPECT_EQ(out.state.scalars.at("assigned"), CV::integer(6)) << "seen before";

  // priority_fault: nested verdicts.
  auto pf = appnet("priority_fault");
  ConcreteInputs pin;
  pin.state = init(pf);
  pin.fields = {{"priority", CV::integer(3)}, {"kind", CV::integer(2)}};
  out = run(handler(pf, "req"), pin);
  EXPECT_FALSE(out.forwarded);
  EXPECT_EQ(out.rejectReason, "low_priority_dropped");
  pin.fields["kind"] = CV::integer(1);
  EXPECT_TRUE(run(handler(pf, "req"), pin).forwarded);
  pin.fields = {{"priority", CV::integer(0)}, {"kind", CV::integer(2)}};
  EXPECT_TRUE(run(handler(pf, "req"), pin).forwarded);

  // token_bucket: refill by elapsed time, then take a token.
  auto tb = appnet("token_bucket");
  auto s0 = evaluateInit(program(tb), {}, {1000});
  ASSERT_TRUE(bool(s0)) << llvm::toString(s0.takeError());
  EXPECT_EQ(s0->scalars.at("last_refill"), CV::integer(1000));
  ConcreteInputs tin;
  tin.state = *s0;
  tin.state.scalars["tokens"] = CV::f64(0.5);
  tin.clocks = {1000 + 100000000}; // 0.1 s later: +2 tokens
  out = run(handler(tb, "req"), tin);
  EXPECT_TRUE(out.forwarded);
  EXPECT_EQ(out.state.scalars.at("tokens"), CV::f64(0.5 + 20.0 * 0.1 - 1.0));
  tin.clocks = {1000};
  out = run(handler(tb, "req"), tin);
  EXPECT_FALSE(out.forwarded);
  EXPECT_EQ(out.rejectReason, "rate_limited");
}

//===----------------------------------------------------------------------===//
// Solver queries
//===----------------------------------------------------------------------===//

const char *kEquiv = R"mlir(
netfn.program @a {
  netfn.event @e "test" (x : ui32, flag : i1)
  netfn.state @out : ui32
  netfn.handler @double_add on @e {
    %x = netfn.field.get "x" : ui32
    %y = netfn.add %x, %x : ui32
    netfn.state.write @out, %y : ui32
    netfn.forward
  }
  netfn.handler @double_mul on @e {
    %x = netfn.field.get "x" : ui32
    %two = netfn.const 2 : ui32
    %y = netfn.mul %two, %x : ui32
    %f = netfn.field.get "flag" : i1
    // The same write on both arms, and a reject that cannot happen.
    netfn.if %f {
      netfn.state.write @out, %y : ui32
      netfn.yield
    } else {
      %z = netfn.select %f, %x, %y : ui32
      netfn.state.write @out, %z : ui32
      netfn.yield
    }
    %zero = netfn.const 0 : ui32
    %odd = netfn.rem %y, %two : ui32
    %c = netfn.cmp ne, %odd, %zero : ui32
    netfn.if %c {
      netfn.reject "never"
    } else {
      netfn.yield
    }
    netfn.forward
  }
  netfn.handler @plus_one on @e {
    %x = netfn.field.get "x" : ui32
    %one = netfn.const 1 : ui32
    %y = netfn.add %x, %one : ui32
    netfn.state.write @out, %y : ui32
    netfn.forward
  }
  netfn.handler @or_one on @e {
    %x = netfn.field.get "x" : ui32
    %one = netfn.const 1 : ui32
    %y = netfn.or %x, %one : ui32
    netfn.state.write @out, %y : ui32
    netfn.forward
  }
}
)mlir";

TEST_F(CheckerTest, EquivalentHandlers) {
  auto m = parse(kEquiv);
  EquivalenceResult r =
      checkEquivalence(handler(m, "double_add"), handler(m, "double_mul"));
  EXPECT_EQ(r.status, EquivalenceResult::Equivalent) << r.reason << r.counterexample;
}

TEST_F(CheckerTest, DifferentHandlersGiveACheckedCounterexample) {
  auto m = parse(kEquiv);
  EquivalenceResult r = checkEquivalence(handler(m, "plus_one"), handler(m, "or_one"));
  ASSERT_EQ(r.status, EquivalenceResult::Different) << r.reason;
  EXPECT_NE(r.counterexample.find("state @out"), std::string::npos) << r.counterexample;
  std::cout << r.counterexample;

  // Take a model through the lower-level API and check it by evaluation.
  SemContext sc;
  SymbolicInputs in;
  auto a = encodeHandler(sc, handler(m, "plus_one"), in);
  auto b = encodeHandler(sc, handler(m, "or_one"), in);
  ASSERT_TRUE(a && b);
  std::vector<z3::expr> q = in.assumptions;
  q.push_back(a->state.scalars.at("out") != b->state.scalars.at("out"));
  std::optional<z3::model> model;
  SolverResult sr = solve(sc, q, 10000, &model);
  ASSERT_EQ(sr.status, SolverStatus::Sat);
  uint64_t x = model->eval(in.fields.at("x"), true).get_numeral_uint64();
  EXPECT_EQ(x % 2, 1u) << "x + 1 and x | 1 differ exactly on odd x";
  ConcreteInputs ci;
  ci.fields["x"] = CV::integer(x);
  EXPECT_NE(run(handler(m, "plus_one"), ci).state.scalars.at("out"),
            run(handler(m, "or_one"), ci).state.scalars.at("out"));
}

TEST_F(CheckerTest, ScrambleRoundTripForEveryBody) {
  // Handlers compose: the request handler's outputs are the response
  // handler's inputs. For every body, resp(req(body)) restores it.
  auto m = appnet("scramble");
  SemContext sc;
  SymbolicInputs initIn, in1;
  initIn.prefix = "init.";
  auto s0 = encodeInit(sc, program(m), initIn);
  ASSERT_TRUE(bool(s0)) << llvm::toString(s0.takeError());
  in1.state = *s0;
  auto req = encodeHandler(sc, handler(m, "req"), in1);
  ASSERT_TRUE(bool(req)) << llvm::toString(req.takeError());
  SymbolicInputs in2;
  in2.prefix = "second.";
  in2.state = req->state;
  in2.fields.emplace("body", req->fields.at("body"));
  auto resp = encodeHandler(sc, handler(m, "resp"), in2);
  ASSERT_TRUE(bool(resp)) << llvm::toString(resp.takeError());
  auto s64 = netfn::StringType::get(&ctx, 64);
  std::vector<z3::expr> q = in1.assumptions;
  q.push_back(!sc.valueEq(s64, resp->fields.at("body"), s64, in1.fields.at("body")));
  EXPECT_EQ(solve(sc, q, 30000).status, SolverStatus::Unsat);
  // ... and one pass alone does change some body.
  q = in1.assumptions;
  q.push_back(!sc.valueEq(s64, req->fields.at("body"), s64, in1.fields.at("body")));
  EXPECT_EQ(solve(sc, q, 30000).status, SolverStatus::Sat);
}

TEST_F(CheckerTest, SolverTimeoutIsUnknownWithReason) {
  SemContext sc;
  z3::context &c = sc.z3();
  z3::expr x = c.bv_const("x", 64), y = c.bv_const("y", 64);
  // Factor a 62-bit square of a prime: far more than 1 ms of work.
  z3::expr n = c.bv_val((uint64_t)4611686014132420609ull, 64); // (2^31-1)^2
  std::vector<z3::expr> q = {x * y == n, z3::ugt(x, c.bv_val(1, 64)),
                             z3::ugt(y, c.bv_val(1, 64)),
                             z3::ult(x, c.bv_val((uint64_t)1 << 32, 64)),
                             z3::ult(y, c.bv_val((uint64_t)1 << 32, 64))};
  SolverResult r = solve(sc, q, 1);
  EXPECT_EQ(r.status, SolverStatus::Unknown);
  EXPECT_FALSE(r.reason.empty());
}

TEST_F(CheckerTest, OpWithoutSemanticsIsAnError) {
  ctx.allowUnregisteredDialects(true);
  auto m = parse(R"mlir(
netfn.program @p {
  netfn.event @e "test" (x : ui32)
  netfn.handler @h on @e {
    "other.op"() : () -> ()
    netfn.forward
  }
}
)mlir");
  auto out = evaluateHandler(handler(m, "h"), ConcreteInputs{});
  ASSERT_FALSE(bool(out));
  EXPECT_NE(llvm::toString(out.takeError()).find("no SMT semantics for op 'other.op'"),
            std::string::npos);
  EquivalenceResult r = checkEquivalence(handler(m, "h"), handler(m, "h"));
  EXPECT_EQ(r.status, EquivalenceResult::Unknown);
  EXPECT_NE(r.reason.find("no SMT semantics"), std::string::npos) << r.reason;
}

TEST_F(CheckerTest, UnknownFieldIsAnError) {
  auto m = parse(R"mlir(
netfn.program @p {
  netfn.event @e "test" (x : ui32)
  netfn.handler @h on @e {
    netfn.forward
  }
}
)mlir");
  ConcreteInputs in;
  in.fields["nope"] = CV::integer(1);
  auto out = evaluateHandler(handler(m, "h"), in);
  ASSERT_FALSE(bool(out));
  EXPECT_NE(llvm::toString(out.takeError()).find("no field"), std::string::npos);
}

} // namespace

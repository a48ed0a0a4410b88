//===- NetfnTypes.td - netfn types -------------------------*- tablegen -*-===//
//
// Types of netfn values and state. Integers and booleans are the builtin
// integer types with explicit signedness (si8..si64, ui8..ui64) and i1; reals
// are builtin f64. The types below are the ones builtin MLIR does not have.
//
//===----------------------------------------------------------------------===//

#ifndef SBPF_NETFN_TYPES_TD
#define SBPF_NETFN_TYPES_TD

include "sbpf/Netfn/NetfnDialect.td"
include "mlir/IR/AttrTypeBase.td"

class Netfn_Type<string name, string typeMnemonic, list<Trait> traits = []>
    : TypeDef<Netfn_Dialect, name, traits> {
  let mnemonic = typeMnemonic;
}

def Netfn_FixedType : Netfn_Type<"Fixed", "fixed"> {
  let summary = "signed fixed-point number";
  let description = [{
    `!netfn.fixed<W, F>` is a signed two's-complement number of `W` bits whose
    value is `raw / 2^F`. Addition and subtraction wrap modulo 2^W; `mul` is
    `(a * b) >> F` computed in 2W bits with an arithmetic shift (rounding
    toward minus infinity) then truncated to W bits; `div` is `(a << F) / b`
    computed in 2W bits, truncating toward zero, then truncated to W bits
    (wrapping like `mul`), with `x / 0 = 0`. Constants
    are written by their raw integer, `raw(N)`. It is the kernel's representation of a
    real number; the float-to-fixed step chooses F per value range (W = 64).

    Example: `!netfn.fixed<64, 32>` (0.95 is the raw value 4080218931).
  }];
  let parameters = (ins "unsigned":$width, "unsigned":$frac);
  let assemblyFormat = "`<` $width `,` $frac `>`";
  let genVerifyDecl = 1;
}

def Netfn_StringType : Netfn_Type<"String", "string"> {
  let summary = "bounded byte string";
  let description = [{
    `!netfn.string<N>` is a sequence of at most `N` bytes (no terminator, no
    encoding). Two strings are equal when they have the same length and the
    same bytes; the capacity is not part of a value's identity, so strings of
    different capacities compare by content.

    Example: `!netfn.string<32>`.
  }];
  let parameters = (ins "unsigned":$capacity);
  let assemblyFormat = "`<` $capacity `>`";
  let genVerifyDecl = 1;
}

def Netfn_InstantType : Netfn_Type<"Instant", "instant"> {
  let summary = "a point in time";
  let description = [{
    `!netfn.instant` is a reading of a monotonic clock in nanoseconds, an
    unsigned 64-bit number. Only `netfn.now` creates one; `netfn.cast`
    converts it to and from `ui64`.

    Example: `%t = netfn.now : !netfn.instant`.
  }];
}

def Netfn_OptionType : Netfn_Type<"Option", "option"> {
  let summary = "a value that may be absent";
  let description = [{
    `!netfn.option<T>` is either `None` or `Some(v)` with `v : T`. It is the
    result of a map lookup and can only be taken apart by
    `netfn.match_option`.

    Example: `!netfn.option<ui32>`.
  }];
  let parameters = (ins "::mlir::Type":$valueType);
  let assemblyFormat = "`<` $valueType `>`";
  let genVerifyDecl = 1;
}

def Netfn_PairType : Netfn_Type<"Pair", "pair"> {
  let summary = "an ordered pair of values";
  let description = [{
    `!netfn.pair<A, B>`, built by `netfn.pair` and read by `netfn.first` and
    `netfn.second`.

    Example: `!netfn.pair<ui32, !netfn.string<16>>`.
  }];
  let parameters = (ins "::mlir::Type":$first, "::mlir::Type":$second);
  let assemblyFormat = "`<` $first `,` $second `>`";
  let genVerifyDecl = 1;
}

def Netfn_MapType : Netfn_Type<"Map", "map"> {
  let summary = "a bounded dictionary (state only)";
  let description = [{
    `!netfn.map<K, V, N>` maps keys of type K to values of type V and holds at
    most `N` entries. Inserting a new key into a full map leaves the map
    unchanged (as a BPF hash map refuses the update). Keys are identified by
    their bits, so for keys containing f64 values NaN is one key and +0 and
    -0 are two (unlike `netfn.cmp eq`). Maps exist only as state
    (`netfn.state`), never as SSA values.

    Example: `!netfn.map<!netfn.string<32>, ui32, 1024>`.
  }];
  let parameters = (ins "::mlir::Type":$keyType, "::mlir::Type":$valueType,
                        "uint64_t":$capacity);
  let assemblyFormat = "`<` $keyType `,` $valueType `,` $capacity `>`";
  let genVerifyDecl = 1;
}

def Netfn_LogType : Netfn_Type<"Log", "log"> {
  let summary = "an append-only log of records sent to user space (state only)";
  let description = [{
    `!netfn.log<T1, ..., Tn>` is a sequence of records with fields of types
    T1..Tn. Handlers append records and read the number of records appended
    so far; the records themselves flow to user space (a ring buffer in
    eBPF), so a log models both AppNet's `Vec<T>` and a monitor's `printf`.
    Logs exist only as state.

    Example: `!netfn.log<f64>`, `!netfn.log<si64, !netfn.string<16>>`.
  }];
  let parameters = (ins ArrayRefParameter<"::mlir::Type", "field types">:$fields);
  let assemblyFormat = "`<` $fields `>`";
  let genVerifyDecl = 1;
}

#endif // SBPF_NETFN_TYPES_TD

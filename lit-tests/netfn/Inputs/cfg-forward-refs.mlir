// Valid MLIR with forward references: uses before their definitions in a
// region that encloses them (a CFG), block arguments, successor operands,
// multi-result definitions, and names reused in other functions (as an
// argument in one and a result in another).
func.func @f(%c: i1, %x: i32) -> i32 {
  cf.cond_br %c, ^bb1(%x : i32), ^bb2
^bb3:
  %w = scf.if %c -> i32 {
    %q = arith.addi %v, %v : i32
    scf.yield %q : i32
  } else {
    scf.yield %v : i32
  }
  cf.br ^bb1(%w : i32)
^bb2:
  %v = arith.addi %x, %x : i32
  %a, %b = "t.two"(%v) : (i32) -> (i32, i32)
  %m:2 = "t.two"(%a) : (i32) -> (i32, i32)
  cf.br ^bb3
^bb1(%z: i32):
  return %z : i32
}

func.func @g(%x: i32) -> (i32, i32) {
  %v = arith.addi %x, %x : i32
  return %v, %x : i32, i32
}

func.func @h(%w: i32) -> i32 {
  return %w : i32
}

func.func @k() -> i32 {
  %w = arith.constant 1 : i32
  return %w : i32
}

// Each netfn verifier rule, with why it exists.
// RUN: sbpf-opt %s -split-input-file -verify-diagnostics

// Only declarations and handlers live at program level: code runs in handlers.
netfn.program @p {
  // expected-error @+1 {{is not allowed directly in a netfn.program}}
  %c = netfn.const 1 : si32
}

// -----

// One init: "runs once before any event" must name one piece of code.
netfn.program @p {
  netfn.init {
    netfn.return
  }
  // expected-error @+1 {{a program has at most one netfn.init}}
  netfn.init {
    netfn.return
  }
}

// -----

// A handler is bound to a declared event; its fields come from there.
netfn.program @p {
  netfn.state @s : si32
  // expected-error @+1 {{is bound to 's', which does not name a netfn.event}}
  netfn.handler @h on @s {
    netfn.forward
  }
}

// -----

netfn.program @p {
  // expected-error @+1 {{declares field 'a' twice}}
  netfn.event @e "packet" (a : ui32, a : ui32)
}

// -----

// Event fields are scalars: the backends lay them out at fixed offsets.
netfn.program @p {
  // expected-error @+1 {{field 'm' must have a scalar type}}
  netfn.event @e "packet" (m : !netfn.option<ui32>)
}

// -----

// Signless integers have no signedness, so division and comparison would
// be ambiguous; netfn insists on si/ui.
netfn.program @p {
  netfn.init {
    // expected-error @+1 {{result #0 must be netfn scalar}}
    %c = netfn.const 1 : i32
    netfn.return
  }
}

// -----

// A verdict ends a handler; init has no event to decide on.
netfn.program @p {
  netfn.init {
    // expected-error @+1 {{is a verdict and may appear only inside a netfn.handler}}
    netfn.forward
  }
}

// -----

netfn.program @p {
  netfn.event @e "packet" ()
  netfn.handler @h on @e {
    // expected-error @+1 {{needs a non-empty reason}}
    netfn.reject ""
  }
}

// -----

netfn.program @p {
  netfn.event @e "packet" (a : ui32)
  netfn.handler @h on @e {
    // expected-error @+1 {{event 'e' has no field 'b'}}
    %b = netfn.field.get "b" : ui32
    netfn.forward
  }
}

// -----

netfn.program @p {
  netfn.event @e "packet" (a : ui32)
  netfn.handler @h on @e {
    // expected-error @+1 {{field 'a' has type 'ui32', not 'si32'}}
    %a = netfn.field.get "a" : si32
    netfn.forward
  }
}

// -----

netfn.program @p {
  netfn.event @e "packet" ()
  netfn.state @m : !netfn.map<ui32, ui32, 16>
  netfn.handler @h on @e {
    // expected-error @+1 {{use the netfn.map.* or netfn.log.* ops}}
    %a = netfn.state.read @m : ui32
    netfn.forward
  }
}

// -----

netfn.program @p {
  netfn.event @e "packet" ()
  netfn.state @n : si32
  netfn.handler @h on @e {
    %c = netfn.const 1 : ui32
    // expected-error @+1 {{'n' has type 'si32', not 'ui32'}}
    netfn.state.write @n, %c : ui32
    netfn.forward
  }
}

// -----

netfn.program @p {
  netfn.event @e "packet" ()
  netfn.state @n : si32
  netfn.handler @h on @e {
    %k = netfn.const 1 : ui32
    // expected-error @+1 {{'n' is a 'si32', not a map}}
    netfn.map.delete @n[%k] : ui32
    netfn.forward
  }
}

// -----

netfn.program @p {
  netfn.event @e "packet" ()
  netfn.state @m : !netfn.map<ui32, si32, 16>
  netfn.handler @h on @e {
    %k = netfn.const 1 : ui64
    // expected-error @+1 {{key has type 'ui64' but map 'm' has keys of type 'ui32'}}
    %o = netfn.map.get @m[%k] : ui64 -> !netfn.option<si32>
    netfn.forward
  }
}

// -----

netfn.program @p {
  netfn.event @e "packet" ()
  netfn.state @m : !netfn.map<ui32, si32, 16>
  netfn.handler @h on @e {
    %k = netfn.const 1 : ui32
    // expected-error @+1 {{value has type 'ui32' but map 'm' holds values of type 'si32'}}
    netfn.map.set @m[%k], %k : ui32, ui32
    netfn.forward
  }
}

// -----

netfn.program @p {
  netfn.event @e "packet" ()
  netfn.state @l : !netfn.log<f64>
  netfn.handler @h on @e {
    %k = netfn.const 1 : ui32
    // expected-error @+1 {{record has types 'ui32' but log 'l' holds records of 'f64'}}
    netfn.log.append @l(%k) : ui32
    netfn.forward
  }
}

// -----

// Ordering is defined for numbers and instants only, never for strings.
netfn.program @p {
  netfn.event @e "packet" (s : !netfn.string<8>)
  netfn.handler @h on @e {
    %s = netfn.field.get "s" : !netfn.string<8>
    // expected-error @+1 {{predicate 'lt' needs an ordered type}}
    %c = netfn.cmp lt, %s, %s : !netfn.string<8>
    netfn.forward
  }
}

// -----

netfn.program @p {
  netfn.event @e "packet" (s : !netfn.string<8>)
  netfn.handler @h on @e {
    %s = netfn.field.get "s" : !netfn.string<8>
    // expected-error @+1 {{cannot convert '!netfn.string<8>' to 'ui32'}}
    %c = netfn.cast %s : !netfn.string<8> to ui32
    netfn.forward
  }
}

// -----

netfn.program @p {
  netfn.event @e "packet" ()
  netfn.handler @h on @e {
    %c = netfn.const true : i1
    %x = netfn.if %c -> (si32) {
      %one = netfn.const 1 : ui32
      // expected-error @+1 {{yields 'ui32' but the enclosing 'netfn.if' produces 'si32'}}
      netfn.yield %one : ui32
    } else {
      netfn.reject "no"
    }
    netfn.forward
  }
}

// -----

netfn.program @p {
  netfn.event @e "packet" (a : ui32)
  netfn.handler @h on @e {
    %a = netfn.field.get "a" : ui32
    // expected-error @+1 {{case 1 : ui32 appears twice}}
    netfn.match %a : ui32 case 1 {
      netfn.yield
    } case 1 {
      netfn.yield
    } default {
      netfn.yield
    }
    netfn.forward
  }
}

// -----

netfn.program @p {
  netfn.event @e "packet" (a : ui32)
  netfn.handler @h on @e {
    %a = netfn.field.get "a" : ui32
    // expected-error @+1 {{literal is not a valid value of 'ui32'}}
    netfn.match %a : ui32 case -1 {
      netfn.yield
    } default {
      netfn.yield
    }
    netfn.forward
  }
}

// -----

netfn.program @p {
  netfn.init {
    // expected-error @+1 {{string of 6 bytes does not fit in !netfn.string<4>}}
    %c = netfn.const "abcdef" : !netfn.string<4>
    netfn.return
  }
}

// -----

// Loops carry a static bound: the kernel verifier needs one.
netfn.program @p {
  netfn.event @e "packet" ()
  netfn.state @l : !netfn.log<f64>
  netfn.handler @h on @e {
    // expected-error @+1 {{bound must be positive, got 0}}
    netfn.foreach @l bound 0 : () -> () {
    ^bb0(%x: f64):
      netfn.yield
    }
    netfn.forward
  }
}

// -----

netfn.program @p {
  netfn.event @e "packet" ()
  netfn.state @l : !netfn.log<f64>
  netfn.handler @h on @e {
    // expected-error @+1 {{body must take the record fields then the loop-carried values}}
    netfn.foreach @l bound 4 : () -> () {
    ^bb0(%x: ui32):
      netfn.yield
    }
    netfn.forward
  }
}

// -----

// expected-error @+1 {{fixed-point scale 64 must be smaller than the width 64}}
netfn.program @p attributes {t = !netfn.fixed<64, 64>} {
}

// -----

// expected-error @+1 {{map capacity must be in [1, 16777216], got 0}}
netfn.program @p attributes {t = !netfn.map<ui32, ui32, 0>} {
}

// -----

// Maps and logs are state, never values: a value cannot hold a whole map.
netfn.program @p {
  netfn.event @e "packet" ()
  netfn.handler @h on @e {
    // expected-error @+1 {{option payload must be a non-optional netfn value type}}
    %c = netfn.random : !netfn.option<!netfn.map<ui32, ui32, 4>>
    netfn.forward
  }
}

// -----

// A structured region continues (yield) or leaves the handler (a verdict);
// anything else would leave control undefined.
netfn.program @p {
  netfn.event @e "packet" ()
  netfn.handler @h on @e {
    %c = netfn.const true : i1
    // expected-error @+1 {{each region must end with netfn.yield, netfn.forward or netfn.reject}}
    "netfn.if"(%c) ({
      %d = netfn.const true : i1
    }, {
      netfn.yield
    }) : (i1) -> ()
    netfn.forward
  }
}

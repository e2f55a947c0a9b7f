;; AdamW element update, 4 float32 lanes at a time (torch.optim.AdamW single-tensor order; see ../optim.ts).
;; Every operation is a float32 IEEE operation, the same roundings as the scalar reference's Math.fround
;; chain. Arrays start at 16-byte aligned byte offsets; the lanes past n in the last vector are scratch.
(module
  (memory (export "memory") 1)
  (func (export "adamw")
    (param $p i32) (param $m i32) (param $v i32) (param $g i32) (param $n i32)
    (param $decay f32) (param $w f32) (param $wc f32) (param $lowWeight i32)
    (param $b2 f32) (param $oneMinusB2 f32) (param $stepSize f32) (param $bc2Sqrt f32) (param $eps f32)
    (local $i i32) (local $end i32)
    (local $vDecay v128) (local $vW v128) (local $vWc v128) (local $vB2 v128) (local $vOmb2 v128)
    (local $vStep v128) (local $vBc2 v128) (local $vEps v128)
    (local $gi v128) (local $mi v128) (local $diff v128) (local $mNew v128) (local $vNew v128) (local $pi v128)
    (local.set $vDecay (f32x4.splat (local.get $decay)))
    (local.set $vW (f32x4.splat (local.get $w)))
    (local.set $vWc (f32x4.splat (local.get $wc)))
    (local.set $vB2 (f32x4.splat (local.get $b2)))
    (local.set $vOmb2 (f32x4.splat (local.get $oneMinusB2)))
    (local.set $vStep (f32x4.splat (local.get $stepSize)))
    (local.set $vBc2 (f32x4.splat (local.get $bc2Sqrt)))
    (local.set $vEps (f32x4.splat (local.get $eps)))
    ;; byte offset one past the last vector
    (local.set $end (i32.shl (i32.and (i32.add (local.get $n) (i32.const 3)) (i32.const -4)) (i32.const 2)))
    (local.set $i (i32.const 0))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $gi (v128.load (i32.add (local.get $g) (local.get $i))))
        (local.set $mi (v128.load (i32.add (local.get $m) (local.get $i))))
        (local.set $pi (f32x4.mul (v128.load (i32.add (local.get $p) (local.get $i))) (local.get $vDecay)))
        (local.set $diff (f32x4.sub (local.get $gi) (local.get $mi)))
        ;; torch.lerp: m + w*(g - m) below weight 0.5, g - (g - m)*(1 - w) from 0.5 up
        (if (local.get $lowWeight)
          (then (local.set $mNew (f32x4.add (local.get $mi) (f32x4.mul (local.get $vW) (local.get $diff)))))
          (else (local.set $mNew (f32x4.sub (local.get $gi) (f32x4.mul (local.get $diff) (local.get $vWc))))))
        (local.set $vNew
          (f32x4.add
            (f32x4.mul (v128.load (i32.add (local.get $v) (local.get $i))) (local.get $vB2))
            (f32x4.mul (f32x4.mul (local.get $vOmb2) (local.get $gi)) (local.get $gi))))
        (v128.store (i32.add (local.get $m) (local.get $i)) (local.get $mNew))
        (v128.store (i32.add (local.get $v) (local.get $i)) (local.get $vNew))
        (v128.store (i32.add (local.get $p) (local.get $i))
          (f32x4.add (local.get $pi)
            (f32x4.div
              (f32x4.mul (local.get $vStep) (local.get $mNew))
              (f32x4.add (f32x4.div (f32x4.sqrt (local.get $vNew)) (local.get $vBc2)) (local.get $vEps)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next))))
)

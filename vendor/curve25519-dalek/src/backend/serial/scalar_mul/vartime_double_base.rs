// -*- mode: rust; -*-
//
// This file is part of curve25519-dalek.
// Copyright (c) 2016-2021 isis lovecruft
// Copyright (c) 2016-2019 Henry de Valence
// See LICENSE for licensing information.
//
// Authors:
// - isis agora lovecruft <isis@patternsinthevoid.net>
// - Henry de Valence <hdevalence@hdevalence.ca>
#![allow(non_snake_case)]

use core::cmp::Ordering;

use crate::backend::serial::curve_models::{ProjectiveNielsPoint, ProjectivePoint};
use crate::constants;
use crate::edwards::EdwardsPoint;
use crate::scalar::Scalar;
use crate::traits::Identity;
use crate::window::NafLookupTable5;
#[cfg(all(feature = "precomputed-tables", any(test, target_arch = "wasm32")))]
use crate::{backend::serial::curve_models::AffineNielsPoint, window::NafLookupTable8};

/// Sotto patch (not for upstream): `AFFINE_ODD_MULTIPLES_OF_BASEPOINT`'s contents (B, 3B, 5B,
/// ..., 127B as affine Niels points), computed from the basepoint on the first call (64 point
/// conversions, each with a field inversion, once per process) and kept for the process's
/// lifetime. [`mul`] uses it on wasm32, so the constant table is not linked into the module.
#[cfg(all(feature = "precomputed-tables", any(test, target_arch = "wasm32")))]
pub(crate) fn computed_odd_multiples_of_basepoint() -> &'static NafLookupTable8<AffineNielsPoint> {
    static TABLE: std::sync::OnceLock<std::boxed::Box<NafLookupTable8<AffineNielsPoint>>> =
        std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        std::boxed::Box::new(NafLookupTable8::<AffineNielsPoint>::from(
            &constants::ED25519_BASEPOINT_POINT,
        ))
    })
}

/// Compute \\(aA + bB\\) in variable time, where \\(B\\) is the Ed25519 basepoint.
pub fn mul(a: &Scalar, A: &EdwardsPoint, b: &Scalar) -> EdwardsPoint {
    let a_naf = a.non_adjacent_form(5);

    #[cfg(feature = "precomputed-tables")]
    let b_naf = b.non_adjacent_form(8);
    #[cfg(not(feature = "precomputed-tables"))]
    let b_naf = b.non_adjacent_form(5);

    // Find starting index
    let mut i: usize = 255;
    for j in (0..256).rev() {
        i = j;
        if a_naf[i] != 0 || b_naf[i] != 0 {
            break;
        }
    }

    let table_A = NafLookupTable5::<ProjectiveNielsPoint>::from(A);
    #[cfg(all(feature = "precomputed-tables", not(target_arch = "wasm32")))]
    let table_B = &constants::AFFINE_ODD_MULTIPLES_OF_BASEPOINT;
    // Sotto patch (not for upstream): on wasm32 the same table is computed on first use
    // instead of shipped as 7.7 KB of incompressible constants in the module.
    #[cfg(all(feature = "precomputed-tables", target_arch = "wasm32"))]
    let table_B = computed_odd_multiples_of_basepoint();
    #[cfg(not(feature = "precomputed-tables"))]
    let table_B =
        &NafLookupTable5::<ProjectiveNielsPoint>::from(&constants::ED25519_BASEPOINT_POINT);

    let mut r = ProjectivePoint::identity();
    loop {
        let mut t = r.double();

        match a_naf[i].cmp(&0) {
            Ordering::Greater => t = &t.as_extended() + &table_A.select(a_naf[i] as usize),
            Ordering::Less => t = &t.as_extended() - &table_A.select(-a_naf[i] as usize),
            Ordering::Equal => {}
        }

        match b_naf[i].cmp(&0) {
            Ordering::Greater => t = &t.as_extended() + &table_B.select(b_naf[i] as usize),
            Ordering::Less => t = &t.as_extended() - &table_B.select(-b_naf[i] as usize),
            Ordering::Equal => {}
        }

        r = t.as_projective();

        if i == 0 {
            break;
        }
        i -= 1;
    }

    r.as_extended()
}

#[cfg(all(test, feature = "precomputed-tables"))]
mod test {
    use super::*;

    /// Sotto patch: the table computed on first use (wasm32's) holds what the shipped constant
    /// holds.
    #[test]
    fn computed_odd_multiples_of_basepoint_are_the_constant_table() {
        let computed = computed_odd_multiples_of_basepoint();
        assert_eq!(
            format!("{:?}", computed),
            format!("{:?}", constants::AFFINE_ODD_MULTIPLES_OF_BASEPOINT)
        );
        assert!(core::ptr::eq(
            computed,
            computed_odd_multiples_of_basepoint()
        ));
    }
}

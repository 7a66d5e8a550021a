//! Phone bindings over fieldvisit-core (in progress: see issue 4).

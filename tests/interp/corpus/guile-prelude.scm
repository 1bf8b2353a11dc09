;; guile-prelude.scm -- loaded by the differential harness before every corpus
;; program when the program runs on GNU Guile 3.0 (never by flowscheme).
;;
;; Guile is invoked as:
;;   guile --r7rs --no-auto-compile -q -l guile-prelude.scm -s PROGRAM.scm
;;
;; 1. Make the R7RS-small libraries and SRFI-1 / SRFI-69 visible in the
;;    top-level environment, the way flowscheme has them without any import.
;;    (A program may still start with its own (import ...); Guile honours it,
;;    flowscheme accepts and ignores the known libraries.)
(import (scheme base) (scheme char) (scheme write) (scheme read) (scheme cxr)
        (scheme lazy) (scheme case-lambda) (scheme inexact)
        (srfi 1) (srfi 69)
        ;; fold-left is R6RS, not SRFI-1: Guile keeps it in (rnrs lists).
        (only (rnrs lists) fold-left))

;; 2. Adapters, only where Guile's names or contracts differ from flowscheme's.
;;    Each one is listed in KNOWN_DIFFERENCES.md.

;; flowscheme: (list-sort less list), stable.  Guile has no list-sort in its
;; default environment (R6RS (rnrs sorting) has one, unstable by contract).
(define (list-sort less lst) (stable-sort lst less))

;; flowscheme: (sort list less), stable.  Guile's own `sort` has the same
;; argument order but is documented as not guaranteed stable; the corpus
;; checks stability, so pin it to Guile's stable-sort.
(define (sort lst less) (stable-sort lst less))

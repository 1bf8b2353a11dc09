;;; kanren.scm -- flowscheme's own miniKanren (relational programming).
;;;
;;; Portable R7RS-small: top-level defines and syntax-rules only, loadable by
;;; evaluating its forms in order.  Written after the design of microKanren
;;; (Hemann & Friedman, 2013) and The Reasoned Schemer, 2nd ed.
;;;
;;; Representation
;;;   logic variable  a vector #(kanren-var N), N an exact integer.  Variables
;;;                   are plain data (not procedures) so anything holding them
;;;                   can be serialised.  User data must not contain vectors of
;;;                   that exact shape.
;;;   substitution    an association list ((N . value) ...) keyed by the
;;;                   variable's number (looked up with assv).
;;;   state           (substitution . next-variable-number).
;;;   goal            a procedure state -> stream.
;;;   stream          '() | (state . stream) | thunk (an immature stream).
;;;                   Streams interleave: a thunk is forced only when needed,
;;;                   and mplus swaps its arguments at every thunk, so an
;;;                   infinite branch never starves the others.
;;;   Terms unify structurally through pairs and vectors; everything else
;;;   (numbers, strings, symbols, booleans, chars, '()) unifies when equal?.
;;;   == performs the occurs check (sound unification).
;;;   The macros bind no names of their own in user code except ones spelt
;;;   %kanren-..., so they stay correct even under a weakly hygienic expander.
;;;   Goal expressions are expected to be pure: the goal macros evaluate each
;;;   one when its turn in the conjunction comes, and an (== u v) written
;;;   directly in fresh, conde, run, ... unifies in place (no goal closure).
;;;
;;; Core (relational)
;;;   (== u v)                    goal: unify u and v.
;;;   (fresh (x ...) g ...)       goal: introduce new variables x ..., then the
;;;                               conjunction of g ...  (delayed: safe for
;;;                               recursive relations).
;;;   (conde (g ...) ...)         goal: disjunction of conjunctions, fair
;;;                               (interleaving) search, delayed.
;;;   (conj g ...)  (disj g ...)  goal combinators (procedures; (conj) succeeds,
;;;                               (disj) fails).  Not delayed.
;;;   succeed  fail               the goal that succeeds once, the goal that
;;;                               never succeeds.
;;;   (run n (q) g ...)           the first n answers for q, reified; n = #f
;;;                               means all.  (run n (q0 q1 ...) g ...) answers
;;;                               lists (q0 q1 ...).
;;;   (run* (q ...) g ...)        all answers (diverges if there are infinitely many).
;;;   Reification: variables still fresh in an answer print as _.0, _.1, ...
;;;   numbered left to right.
;;;
;;; Impure (non-relational) control -- answers depend on goal order
;;;   (conda (g0 g ...) ...)      soft-cut: the first clause whose head g0
;;;                               succeeds commits; all of g0's answers kept.
;;;   (condu (g0 g ...) ...)      committed choice: like conda, but keeps only
;;;                               the first answer of g0.
;;;   (onceo g)                   at most the first answer of g.
;;;   (project (x ...) g ...)     rebinds x ... to their current values (walked
;;;                               fully) while running g ...; lets goals call
;;;                               ordinary Scheme on ground data.
;;;
;;; Classic relations over lists
;;;   (nullo l)  (pairo p)  (conso a d p)  (caro p a)  (cdro p d)
;;;   (membero x l)               x is an element of l (in list order).
;;;   (appendo l s out)           out is l followed by s (all modes).
;;;   (nevero)  (alwayso)  (anyo g)   the never / always succeeding goals and
;;;                               "g, forever"; for testing fairness.
;;;
;;; Integer goals (exact integers only; NON-relational but safe)
;;;   Each needs some arguments ground.  A ground argument that is not an exact
;;;   integer makes the goal fail (the relation does not hold).  Too few ground
;;;   arguments is an instantiation error (Scheme `error`), never a silently
;;;   lost answer.
;;;   (pluso a b c)        a + b = c; any two of the three ground.
;;;   (minuso a b c)       a - b = c; any two of the three ground.
;;;   (timeso a b c)       a * b = c; a and b ground, or c and one factor ground
;;;                        (then the other factor is c / that factor, failing
;;;                        when it does not divide; 0 * b = 0 leaves b fresh).
;;;   (quotiento n d q)    q = floor(n / d); n and d ground (d = 0 fails).
;;;   (<o a b)  (<=o a b)  comparisons; a and b ground.
;;;   (betweeno lo hi x)   lo <= x <= hi; lo and hi ground; a fresh x is
;;;                        enumerated lo, lo+1, ..., hi in that order.
;;;
;;; Internals also usable by hosts
;;;   (var? x) (make-var n) (var-index v) (walk t s) (walk* t s) (unify u v s)
;;;   (call/fresh f) (mplus s1 s2) (bind s g) (take n stream)
;;;   (reify t state) (run-goal n f) (empty-state)
;;;   (unify-state1 u v state)    the state extended by unifying u and v, or #f
;;;                               (counted like ==).
;;;   (kanren-unifications)       how many unifications (== and the integer
;;;                               goals' bindings) since the last reset.
;;;   (kanren-reset-unifications!)

;;; ------------------------------------------------------------------
;;; Variables, substitutions, unification
;;;
;;; Speed (this file runs on flowscheme's tree-walking interpreter, where a
;;; procedure call costs several primitive calls): the hot paths test for a
;;; variable inline (%kanren-var?, %kanren-walk are macros, and a walk only
;;; calls walk for a variable bound to another vector); unify tries eq?
;;; first and occurs-checks only a pair or vector (an atom or another fresh
;;; variable cannot contain the variable); the goal macros run their
;;; conjunctions and disjunctions in place (== inline) instead of building
;;; conj/disj closures; reification is one pass.  All of it keeps the
;;; streams' shape, so answers come in the same order as the textbook
;;; definitions give.

(define kanren-var-tag 'kanren-var)

(define (make-var n) (vector kanren-var-tag n))

;; Inline variable test; x must be an identifier.
(define-syntax %kanren-var?
  (syntax-rules ()
    ((_ x) (and (vector? x)
                (eqv? (vector-length x) 2)
                (eq? (vector-ref x 0) kanren-var-tag)))))

(define (var? x) (%kanren-var? x))

(define (var-index v) (vector-ref v 1))

(define (empty-state) (cons '() 0))

(define (walk t s)
  (if (%kanren-var? t)
      (let ((b (assv (vector-ref t 1) s)))
        (if b (walk (cdr b) s) t))
      t))

;; (%kanren-walk t s) is (walk t s), its first step inline; t and s must be
;; identifiers.
(define-syntax %kanren-walk
  (syntax-rules ()
    ((_ t s)
     (if (%kanren-var? t)
         (let ((b (assv (vector-ref t 1) s)))
           (if b
               (let ((v (cdr b))) (if (vector? v) (walk v s) v))
               t))
         t))))

;; Does variable x occur in t (under s)?
(define (occurs? x t s)
  (let ((t (%kanren-walk t s)))
    (cond ((pair? t)
           (let ((a (car t)))
             (or (and (or (pair? a) (vector? a)) (occurs? x a s))
                 (occurs? x (cdr t) s))))
          ((vector? t)
           (if (%kanren-var? t)
               (eqv? (vector-ref t 1) (vector-ref x 1))
               (occurs? x (vector->list t) s)))
          (else #f))))

(define (ext-s x t s)
  (if (and (or (pair? t) (vector? t)) (occurs? x t s))
      #f
      (cons (cons (vector-ref x 1) t) s)))

;; s extended with x bound to t, where x is a fresh variable and t is walked
;; and not x: only a pair or a vector needs the occurs check.
(define-syntax %kanren-extend
  (syntax-rules ()
    ((_ x t s)
     (if (and (or (pair? t) (and (vector? t) (not (%kanren-var? t))))
              (occurs? x t s))
         #f
         (cons (cons (vector-ref x 1) t) s)))))

;; unify: the extended substitution, or #f.
(define (unify u v s)
  (let ((u (%kanren-walk u s)) (v (%kanren-walk v s)))
    (cond ((eq? u v) s)
          ((%kanren-var? u)
           (if (%kanren-var? v)
               (if (eqv? (vector-ref u 1) (vector-ref v 1))
                   s
                   (cons (cons (vector-ref u 1) v) s))
               (%kanren-extend u v s)))
          ((%kanren-var? v) (%kanren-extend v u s))
          ((pair? u)
           (and (pair? v)
                (let ((s (unify (car u) (car v) s)))
                  (and s (unify (cdr u) (cdr v) s)))))
          ((vector? u)
           (and (vector? v)
                (= (vector-length u) (vector-length v))
                (unify (vector->list u) (vector->list v) s)))
          ((equal? u v) s)
          (else #f))))

(define kanren-unification-count 0)

(define (kanren-unifications) kanren-unification-count)

(define (kanren-reset-unifications!) (set! kanren-unification-count 0))

;; The state st extended by unifying u and v, or #f (counted).
(define (unify-state1 u v st)
  (set! kanren-unification-count (+ kanren-unification-count 1))
  (let ((s (unify u v (car st))))
    (and s (cons s (cdr st)))))

;; The stream of the state extended by unifying u and v (used by == and by
;; the integer goals).
(define (unify-state u v st)
  (let ((st (unify-state1 u v st)))
    (if st (list st) '())))

(define (walk* t s)
  (let ((t (%kanren-walk t s)))
    (cond ((pair? t)
           (let ((a (car t)) (d (cdr t)))
             (cons (if (or (pair? a) (vector? a)) (walk* a s) a)
                   (if (or (pair? d) (vector? d)) (walk* d s) d))))
          ((vector? t)
           (if (%kanren-var? t) t (list->vector (walk* (vector->list t) s))))
          (else t))))

;;; ------------------------------------------------------------------
;;; Streams

;; (mplus s '()) is s itself (the textbook recursion copies a mature stream
;; and wraps an immature one in a thunk that forces it at once).
(define (mplus s1 s2)
  (cond ((null? s1) s2)
        ((null? s2) s1)
        ((pair? s1) (cons (car s1) (mplus (cdr s1) s2)))
        (else (lambda () (mplus s2 (s1))))))

;; (bind (st) g) is (g st): one state needs no mplus.
(define (bind s g)
  (cond ((null? s) '())
        ((pair? s)
         (if (null? (cdr s))
             (g (car s))
             (mplus (g (car s)) (bind (cdr s) g))))
        (else (lambda () (bind (s) g)))))

;; The first n states of a stream (all of them when n is #f).
(define (take n s)
  (let loop ((n n) (s s) (acc '()))
    (cond ((and n (<= n 0)) (reverse acc))
          ((null? s) (reverse acc))
          ((pair? s) (loop (and n (- n 1)) (cdr s) (cons (car s) acc)))
          (else (loop n (s) acc)))))

;;; ------------------------------------------------------------------
;;; Goals and combinators

(define (== u v)
  (lambda (st) (unify-state u v st)))

(define succeed (lambda (st) (list st)))

(define fail (lambda (st) '()))

(define (conj2 g1 g2)
  (lambda (st) (bind (g1 st) g2)))

(define (disj2 g1 g2)
  (lambda (st) (mplus (g1 st) (g2 st))))

(define (conj-list gs)
  (if (null? (cdr gs)) (car gs) (conj2 (car gs) (conj-list (cdr gs)))))

(define (disj-list gs)
  (if (null? (cdr gs)) (car gs) (disj2 (car gs) (disj-list (cdr gs)))))

(define (conj . gs) (if (null? gs) succeed (conj-list gs)))

(define (disj . gs) (if (null? gs) fail (disj-list gs)))

;; (%kanren-conj-run st g ...): the stream ((conj g ...) st), run in place:
;; each goal expression is evaluated when its turn comes (goal expressions
;; are expected to be pure), and (== u v) unifies without a goal closure.
(define-syntax %kanren-conj-run
  (syntax-rules (==)
    ((_ st (== u v)) (unify-state u v st))
    ((_ st (== u v) g0 g ...)
     (let ((%kanren-st1 (unify-state1 u v st)))
       (if %kanren-st1 (%kanren-conj-run %kanren-st1 g0 g ...) '())))
    ((_ st g0) (g0 st))
    ((_ st g0 g1 g ...)
     (bind (g0 st) (lambda (%kanren-s) (%kanren-conj-run %kanren-s g1 g ...))))))

;; (%kanren-conj g ...): the goal (conj g ...).
(define-syntax %kanren-conj
  (syntax-rules ()
    ((_ g0) g0)
    ((_ g0 g ...) (lambda (%kanren-s) (%kanren-conj-run %kanren-s g0 g ...)))))

;; (%kanren-disj-run st (g ...) ...): the stream ((disj (conj g ...) ...) st).
(define-syntax %kanren-disj-run
  (syntax-rules ()
    ((_ st (g0 g ...)) (%kanren-conj-run st g0 g ...))
    ((_ st (g0 g ...) c0 c ...)
     (mplus (%kanren-conj-run st g0 g ...) (%kanren-disj-run st c0 c ...)))))

;; (call/fresh f): the goal (f x) for a new variable x.
(define (call/fresh f)
  (lambda (st)
    (let ((c (cdr st)))
      ((f (make-var c)) (cons (car st) (+ c 1))))))

;; The inverse-eta-delay: the goal expressions are evaluated, and the goal
;; run, only when the stream is forced.
(define-syntax kanren-delay
  (syntax-rules ()
    ((_ g0 g ...)
     (lambda (%kanren-st) (lambda () (%kanren-conj-run %kanren-st g0 g ...))))))

;; (fresh (x ...) g ...) numbers its variables c, c+1, ... from the state's
;; counter, as nested call/fresh would, binding them all in one let.
(define-syntax fresh
  (syntax-rules ()
    ((_ () g0 g ...) (kanren-delay g0 g ...))
    ((_ (x ...) g0 g ...)
     (lambda (%kanren-st)
       (let ((%kanren-c (cdr %kanren-st)))
         (%kanren-fresh %kanren-st %kanren-c () (x ...) () g0 g ...))))))

(define-syntax %kanren-fresh
  (syntax-rules ()
    ((_ st c (one ...) () (b ...) g0 g ...)
     (let ((%kanren-next (cons (car st) (+ c one ...))))
       (let (b ...)
         (lambda () (%kanren-conj-run %kanren-next g0 g ...)))))
    ((_ st c (one ...) (x0 x ...) (b ...) g0 g ...)
     (%kanren-fresh st c (one ... 1) (x ...)
                    (b ... (x0 (vector kanren-var-tag (+ c one ...))))
                    g0 g ...))))

(define-syntax conde
  (syntax-rules ()
    ((_ c0 c ...)
     (lambda (%kanren-st) (lambda () (%kanren-disj-run %kanren-st c0 c ...))))))

;; if-then-else on streams, for conda/condu.
(define (ifte g0 g1 g2)
  (lambda (st)
    (let loop ((s (g0 st)))
      (cond ((null? s) (g2 st))
            ((pair? s) (bind s g1))
            (else (lambda () (loop (s))))))))

(define (onceo g)
  (lambda (st)
    (let loop ((s (g st)))
      (cond ((null? s) '())
            ((pair? s) (list (car s)))
            (else (lambda () (loop (s))))))))

(define-syntax conda
  (syntax-rules ()
    ((_ (g0 g ...)) (kanren-delay g0 g ...))
    ((_ (g0 g ...) ln ...)
     (lambda (%kanren-st)
       (lambda () ((ifte g0 (conj g ...) (conda ln ...)) %kanren-st))))))

(define-syntax condu
  (syntax-rules ()
    ((_ (g0 g ...)) (kanren-delay (onceo g0) g ...))
    ((_ (g0 g ...) ln ...)
     (lambda (%kanren-st)
       (lambda () ((ifte (onceo g0) (conj g ...) (condu ln ...)) %kanren-st))))))

(define-syntax project
  (syntax-rules ()
    ((_ (x ...) g0 g ...)
     (lambda (%kanren-st)
       (let ((x (walk* x (car %kanren-st))) ...)
         (%kanren-conj-run %kanren-st g0 g ...))))))

;;; ------------------------------------------------------------------
;;; Running and reification

(define (reify-name n)
  (string->symbol (string-append "_." (number->string n))))

;; r maps variable numbers to _.N names, in order of first appearance.
(define (reify-s t r)
  (let ((t (%kanren-walk t r)))
    (cond ((pair? t)
           (let ((a (car t)))
             (reify-s (cdr t) (if (or (pair? a) (vector? a)) (reify-s a r) r))))
          ((vector? t)
           (if (%kanren-var? t)
               (cons (cons (vector-ref t 1) (reify-name (length r))) r)
               (reify-s (vector->list t) r)))
          (else r))))

;; t walked fully under s, each fresh variable replaced by its name _.N
;; (numbered left to right).  names is a box, a pair whose car is the
;; variable-number -> name association so far.
(define (reify-term t s names)
  (let ((t (%kanren-walk t s)))
    (cond ((pair? t)
           (let* ((a (car t))
                  (a (if (or (pair? a) (vector? a)) (reify-term a s names) a))
                  (d (cdr t)))
             (cons a (if (or (pair? d) (vector? d)) (reify-term d s names) d))))
          ((vector? t)
           (if (%kanren-var? t)
               (let ((known (assv (vector-ref t 1) (car names))))
                 (if known
                     (cdr known)
                     (let ((name (reify-name (length (car names)))))
                       (set-car! names (cons (cons (vector-ref t 1) name) (car names)))
                       name)))
               (list->vector (reify-term (vector->list t) s names))))
          (else t))))

;; t's value in st, its fresh variables named _.0, _.1, ...
(define (reify t st)
  (reify-term t (car st) (list '())))

;; The first n answers of the goal (f q), reified as values of q.
(define (run-goal n f)
  (let ((q (make-var 0)))
    (map (lambda (st) (reify q st))
         (take n ((kanren-delay (f q)) (cons '() 1))))))

(define-syntax run
  (syntax-rules ()
    ((_ n (q) g0 g ...)
     (run-goal n (lambda (q) (%kanren-conj g0 g ...))))
    ((_ n (q0 q1 q ...) g0 g ...)
     (run n (%kanren-q) (fresh (q0 q1 q ...) (== %kanren-q (list q0 q1 q ...)) g0 g ...)))))

(define-syntax run*
  (syntax-rules ()
    ((_ (q ...) g0 g ...) (run #f (q ...) g0 g ...))))

;;; ------------------------------------------------------------------
;;; Classic relations

(define (nullo l) (== l '()))

(define (conso a d p) (== (cons a d) p))

(define (pairo p) (fresh (a d) (conso a d p)))

(define (caro p a) (fresh (d) (conso a d p)))

(define (cdro p d) (fresh (a) (conso a d p)))

;; membero is (fresh (a d) (conso a d l) (conde ((== a x)) ((membero x d)))).
;; When l is already a pair, its car and cdr are used directly instead of
;; binding two new variables to them (and occurs-checking the list's tail);
;; the stream keeps the same shape (two delays per element), so answers come
;; in the same order.
(define (membero x l)
  (lambda (st)
    (lambda ()
      (let ((l1 (walk l (car st))))
        (cond ((pair? l1)
               (lambda ()
                 (mplus (unify-state (car l1) x st)
                        ((membero x (cdr l1)) st))))
              ((%kanren-var? l1)
               (let* ((c (cdr st))
                      (a (make-var c))
                      (d (make-var (+ c 1))))
                 (bind ((conso a d l) (cons (car st) (+ c 2)))
                       (conde
                         ((== a x))
                         ((membero x d))))))
              (else '()))))))

(define (appendo l s out)
  (conde
    ((nullo l) (== s out))
    ((fresh (a d res)
       (conso a d l)
       (conso a res out)
       (appendo d s res)))))

(define (nevero) (conde ((nevero))))

(define (alwayso) (conde (succeed) ((alwayso))))

(define (anyo g) (conde (g) ((anyo g))))

;;; ------------------------------------------------------------------
;;; Integer goals (non-relational but safe)

(define (exact-integer-term? t)
  (and (integer? t) (exact? t)))

(define (kanren-instantiation-error who)
  (error (string-append who ": arguments are not sufficiently instantiated")))

;; A walked integer-goal argument is acceptable when fresh or an exact integer.
(define-syntax %kanren-integer-arg?
  (syntax-rules ()
    ((_ t) (if (vector? t) (%kanren-var? t) (and (integer? t) (exact? t))))))

;; Calls (k a b ...) with the walked arguments, or fails at once if one of
;; them is ground but not an exact integer.
(define (integer-goal k . args)
  (lambda (st)
    (let loop ((ts args) (acc '()))
      (if (null? ts)
          ((apply k (reverse acc)) st)
          (let ((t (walk (car ts) (car st))))
            (if (%kanren-integer-arg? t)
                (loop (cdr ts) (cons t acc))
                '()))))))

;; integer-goal for two and for three arguments, without the argument list,
;; and k returns the stream itself: (k a b st), (k a b c st).
(define (integer-goal2 k a b)
  (lambda (st)
    (let* ((s (car st))
           (a (%kanren-walk a s))
           (b (%kanren-walk b s)))
      (if (and (%kanren-integer-arg? a) (%kanren-integer-arg? b))
          (k a b st)
          '()))))

(define (integer-goal3 k a b c)
  (lambda (st)
    (let* ((s (car st))
           (a (%kanren-walk a s))
           (b (%kanren-walk b s))
           (c (%kanren-walk c s)))
      (if (and (%kanren-integer-arg? a) (%kanren-integer-arg? b) (%kanren-integer-arg? c))
          (k a b c st)
          '()))))

(define (pluso-walked a b c st)
  (cond ((and (%kanren-var? a) (%kanren-var? b)) (kanren-instantiation-error "pluso"))
        ((and (%kanren-var? c) (or (%kanren-var? a) (%kanren-var? b)))
         (kanren-instantiation-error "pluso"))
        ((%kanren-var? c) (unify-state c (+ a b) st))
        ((%kanren-var? a) (unify-state a (- c b) st))
        (else (unify-state b (- c a) st))))

(define (pluso a b c) (integer-goal3 pluso-walked a b c))

(define (minuso a b c) (pluso b c a))

;; known * other = product, known and product ground.
(define (timeso-factor known product other st)
  (cond ((zero? known) (if (zero? product) (list st) '()))
        ((zero? (remainder product known))
         (unify-state other (quotient product known) st))
        (else '())))

(define (timeso-walked a b c st)
  (cond ((not (or (%kanren-var? a) (%kanren-var? b))) (unify-state c (* a b) st))
        ((%kanren-var? c) (kanren-instantiation-error "timeso"))
        ((%kanren-var? b) (if (%kanren-var? a)
                              (kanren-instantiation-error "timeso")
                              (timeso-factor a c b st)))
        (else (timeso-factor b c a st))))

(define (timeso a b c) (integer-goal3 timeso-walked a b c))

(define (quotiento-walked n d q st)
  (cond ((or (%kanren-var? n) (%kanren-var? d)) (kanren-instantiation-error "quotiento"))
        ((zero? d) '())
        (else (unify-state q (quotient (- n (modulo n d)) d) st))))

(define (quotiento n d q) (integer-goal3 quotiento-walked n d q))

(define (<o-walked a b st)
  (cond ((or (%kanren-var? a) (%kanren-var? b)) (kanren-instantiation-error "<o"))
        ((< a b) (list st))
        (else '())))

(define (<o a b) (integer-goal2 <o-walked a b))

(define (<=o-walked a b st)
  (cond ((or (%kanren-var? a) (%kanren-var? b)) (kanren-instantiation-error "<=o"))
        ((<= a b) (list st))
        (else '())))

(define (<=o a b) (integer-goal2 <=o-walked a b))

(define (betweeno lo hi x)
  (integer-goal3
   (lambda (lo hi x st)
     (define (from i)
       (if (> i hi)
           fail
           (conde
             ((== x i))
             ((from (+ i 1))))))
     (cond ((or (var? lo) (var? hi)) (kanren-instantiation-error "betweeno"))
           ((var? x) ((from lo) st))
           ((and (<= lo x) (<= x hi)) (list st))
           (else '())))
   lo hi x))

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
;;;   (kanren-unifications)       how many unifications (== and the integer
;;;                               goals' bindings) since the last reset.
;;;   (kanren-reset-unifications!)

;;; ------------------------------------------------------------------
;;; Variables, substitutions, unification

(define kanren-var-tag 'kanren-var)

(define (make-var n) (vector kanren-var-tag n))

(define (var? x)
  (and (vector? x)
       (= (vector-length x) 2)
       (eq? (vector-ref x 0) kanren-var-tag)))

(define (var-index v) (vector-ref v 1))

(define (empty-state) (cons '() 0))

(define (walk t s)
  (if (var? t)
      (let ((b (assv (var-index t) s)))
        (if b (walk (cdr b) s) t))
      t))

(define (occurs? x t s)
  (let ((t (walk t s)))
    (cond ((var? t) (eqv? (var-index t) (var-index x)))
          ((pair? t) (or (occurs? x (car t) s) (occurs? x (cdr t) s)))
          ((vector? t) (occurs? x (vector->list t) s))
          (else #f))))

(define (ext-s x t s)
  (if (occurs? x t s)
      #f
      (cons (cons (var-index x) t) s)))

;; unify: the extended substitution, or #f.
(define (unify u v s)
  (let ((u (walk u s)) (v (walk v s)))
    (cond ((and (var? u) (var? v) (eqv? (var-index u) (var-index v))) s)
          ((var? u) (ext-s u v s))
          ((var? v) (ext-s v u s))
          ((and (pair? u) (pair? v))
           (let ((s (unify (car u) (car v) s)))
             (and s (unify (cdr u) (cdr v) s))))
          ((and (vector? u) (vector? v))
           (and (= (vector-length u) (vector-length v))
                (unify (vector->list u) (vector->list v) s)))
          ((equal? u v) s)
          (else #f))))

(define kanren-unification-count 0)

(define (kanren-unifications) kanren-unification-count)

(define (kanren-reset-unifications!) (set! kanren-unification-count 0))

;; The stream of the state extended by unifying u and v (used by == and by
;; the integer goals).
(define (unify-state u v st)
  (set! kanren-unification-count (+ kanren-unification-count 1))
  (let ((s (unify u v (car st))))
    (if s (list (cons s (cdr st))) '())))

(define (walk* t s)
  (let ((t (walk t s)))
    (cond ((var? t) t)
          ((pair? t) (cons (walk* (car t) s) (walk* (cdr t) s)))
          ((vector? t) (list->vector (walk* (vector->list t) s)))
          (else t))))

;;; ------------------------------------------------------------------
;;; Streams

(define (mplus s1 s2)
  (cond ((null? s1) s2)
        ((pair? s1) (cons (car s1) (mplus (cdr s1) s2)))
        (else (lambda () (mplus s2 (s1))))))

(define (bind s g)
  (cond ((null? s) '())
        ((pair? s) (mplus (g (car s)) (bind (cdr s) g)))
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

(define (conj . gs)
  (cond ((null? gs) succeed)
        ((null? (cdr gs)) (car gs))
        (else (conj2 (car gs) (apply conj (cdr gs))))))

(define (disj . gs)
  (cond ((null? gs) fail)
        ((null? (cdr gs)) (car gs))
        (else (disj2 (car gs) (apply disj (cdr gs))))))

;; (call/fresh f): the goal (f x) for a new variable x.
(define (call/fresh f)
  (lambda (st)
    (let ((c (cdr st)))
      ((f (make-var c)) (cons (car st) (+ c 1))))))

;; The inverse-eta-delay: the goal expressions are evaluated, and the goal
;; run, only when the stream is forced.
(define-syntax kanren-delay
  (syntax-rules ()
    ((_ g0 g ...) (lambda (%kanren-st) (lambda () ((conj g0 g ...) %kanren-st))))))

(define-syntax fresh
  (syntax-rules ()
    ((_ () g0 g ...) (kanren-delay g0 g ...))
    ((_ (x0 x ...) g0 g ...)
     (call/fresh (lambda (x0) (fresh (x ...) g0 g ...))))))

(define-syntax conde
  (syntax-rules ()
    ((_ (g0 g ...) ...)
     (lambda (%kanren-st) (lambda () ((disj (conj g0 g ...) ...) %kanren-st))))))

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
         ((conj g0 g ...) %kanren-st))))))

;;; ------------------------------------------------------------------
;;; Running and reification

(define (reify-name n)
  (string->symbol (string-append "_." (number->string n))))

;; r maps variable numbers to _.N names, in order of first appearance.
(define (reify-s t r)
  (let ((t (walk t r)))
    (cond ((var? t)
           (cons (cons (var-index t) (reify-name (length r))) r))
          ((pair? t) (reify-s (cdr t) (reify-s (car t) r)))
          ((vector? t) (reify-s (vector->list t) r))
          (else r))))

(define (reify t st)
  (let* ((t (walk* t (car st)))
         (r (reify-s t '())))
    (walk* t r)))

;; The first n answers of the goal (f q), reified as values of q.
(define (run-goal n f)
  (let ((q (make-var 0)))
    (map (lambda (st) (reify q st))
         (take n ((kanren-delay (f q)) (cons '() 1))))))

(define-syntax run
  (syntax-rules ()
    ((_ n (q) g0 g ...)
     (run-goal n (lambda (q) (conj g0 g ...))))
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

(define (membero x l)
  (fresh (a d)
    (conso a d l)
    (conde
      ((== a x))
      ((membero x d)))))

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

;; Calls (k a b ...) with the walked arguments, or fails at once if one of
;; them is ground but not an exact integer.
(define (integer-goal k . args)
  (lambda (st)
    (let loop ((ts args) (acc '()))
      (if (null? ts)
          ((apply k (reverse acc)) st)
          (let ((t (walk (car ts) (car st))))
            (if (or (var? t) (exact-integer-term? t))
                (loop (cdr ts) (cons t acc))
                '()))))))

(define (pluso a b c)
  (integer-goal
   (lambda (a b c)
     (cond ((and (var? a) (var? b)) (kanren-instantiation-error "pluso"))
           ((and (var? c) (or (var? a) (var? b)))
            (kanren-instantiation-error "pluso"))
           ((var? c) (== c (+ a b)))
           ((var? a) (== a (- c b)))
           (else (== b (- c a)))))
   a b c))

(define (minuso a b c) (pluso b c a))

(define (timeso a b c)
  (define (factor known product other)
    (cond ((zero? known) (if (zero? product) succeed fail))
          ((zero? (remainder product known)) (== other (quotient product known)))
          (else fail)))
  (integer-goal
   (lambda (a b c)
     (cond ((not (or (var? a) (var? b))) (== c (* a b)))
           ((var? c) (kanren-instantiation-error "timeso"))
           ((var? b) (if (var? a)
                         (kanren-instantiation-error "timeso")
                         (factor a c b)))
           (else (factor b c a))))
   a b c))

(define (quotiento n d q)
  (integer-goal
   (lambda (n d q)
     (cond ((or (var? n) (var? d)) (kanren-instantiation-error "quotiento"))
           ((zero? d) fail)
           (else (== q (quotient (- n (modulo n d)) d)))))
   n d q))

(define (<o a b)
  (integer-goal
   (lambda (a b)
     (cond ((or (var? a) (var? b)) (kanren-instantiation-error "<o"))
           ((< a b) succeed)
           (else fail)))
   a b))

(define (<=o a b)
  (integer-goal
   (lambda (a b)
     (cond ((or (var? a) (var? b)) (kanren-instantiation-error "<=o"))
           ((<= a b) succeed)
           (else fail)))
   a b))

(define (betweeno lo hi x)
  (integer-goal
   (lambda (lo hi x)
     (define (from i)
       (if (> i hi)
           fail
           (conde
             ((== x i))
             ((from (+ i 1))))))
     (cond ((or (var? lo) (var? hi)) (kanren-instantiation-error "betweeno"))
           ((var? x) (from lo))
           ((and (<= lo x) (<= x hi)) succeed)
           (else fail)))
   lo hi x))

;;; R7RS-small 4.3  Macros
;;; define-syntax, let-syntax, letrec-syntax, syntax-rules (patterns, templates,
;;; literals, ellipsis, custom ellipsis, (... ...), _), hygiene, syntax-error.

;;; ---------------------------------------------------------------- 4.3.1 binding constructs for syntactic keywords

(test "let-syntax-hygiene-standard-example" 'now
  (let-syntax ((given-that (syntax-rules ()
                             ((_ test stmt1 stmt2 ...)
                              (if test (begin stmt1 stmt2 ...))))))
    (let ((if #t))
      (given-that if (set! if 'now))
      if)))
(test "let-syntax-free-identifier-refers-to-definition-scope" 'outer
  (let ((x 'outer))
    (let-syntax ((m (syntax-rules () ((m) x))))
      (let ((x 'inner))
        (m)))))
(test "letrec-syntax-my-or-standard-example" 7
  (letrec-syntax
      ((my-or (syntax-rules ()
                ((my-or) #f)
                ((my-or e) e)
                ((my-or e1 e2 ...)
                 (let ((temp e1))
                   (if temp temp (my-or e2 ...)))))))
    (let ((x #f)
          (y 7)
          (temp 8)
          (let odd?)
          (if even?))
      (my-or x (let temp) (if y) y))))
(test "let-syntax-bindings-do-not-see-each-other" 'outer
  (define-syntax foo (syntax-rules () ((_) 'outer)))
  (let-syntax ((foo (syntax-rules () ((_) 'inner)))
               (bar (syntax-rules () ((_) (foo)))))
    (bar)))
(test "letrec-syntax-bindings-see-each-other" 'inner
  (define-syntax foo (syntax-rules () ((_) 'outer)))
  (letrec-syntax ((foo (syntax-rules () ((_) 'inner)))
                  (bar (syntax-rules () ((_) (foo)))))
    (bar)))
(test "let-syntax-scope-ends" 'global
  (define-syntax m (syntax-rules () ((_) 'global)))
  (let-syntax ((m (syntax-rules () ((_) 'local)))) (m))
  (m))
(test "let-syntax-empty" 1 (let-syntax () 1))
(test "let-syntax-body-sequence" 3 (let-syntax ((m (syntax-rules () ((_ x) x)))) 1 2 (m 3)))
(test "let-syntax-shadows-procedure" 'macro
  (define (f) 'procedure)
  (let-syntax ((f (syntax-rules () ((_) 'macro)))) (f)))
(test "local-variable-shadows-macro" 1
  (define-syntax foo (syntax-rules () ((_ x) 'macro)))
  (let ((foo (lambda (x) x))) (foo 1)))

;;; ---------------------------------------------------------------- 4.3.2 pattern language

(test "swap!" '(2 1)
  (define-syntax swap!
    (syntax-rules ()
      ((_ a b) (let ((tmp a)) (set! a b) (set! b tmp)))))
  (define x 1)
  (define y 2)
  (swap! x y)
  (list x y))
(test "hygiene-introduced-binding-does-not-capture" '(2 1)
  (define-syntax swap!
    (syntax-rules ()
      ((_ a b) (let ((tmp a)) (set! a b) (set! b tmp)))))
  (let ((tmp 1) (other 2))
    (swap! tmp other)
    (list tmp other)))
(test "hygiene-macro-or-with-user-t" 5
  (define-syntax my-or2
    (syntax-rules () ((_ a b) (let ((t a)) (if t t b)))))
  (let ((t 5)) (my-or2 #f t)))
(test "referential-transparency-list" '(1)
  (define-syntax m (syntax-rules () ((_ x) (list x))))
  (let ((list vector)) (m 1)))
(test "referential-transparency-if" 'yes
  (define-syntax my-if (syntax-rules () ((_ c a b) (cond (c a) (else b)))))
  (let ((else #f)) (my-if #f 'no 'yes)))
(test "literal-matches" '(1 2)
  (define-syntax m
    (syntax-rules (=>)
      ((_ a => b) (list a b))
      ((_ a b c) 'no-literal)))
  (m 1 => 2))
(test "literal-does-not-match-other-identifier" 'no-literal
  (define-syntax m
    (syntax-rules (=>)
      ((_ a => b) (list a b))
      ((_ a b c) 'no-literal)))
  (m 1 -> 2))
(test "literal-locally-bound-does-not-match" 'no-literal
  (define-syntax m
    (syntax-rules (=>)
      ((_ a => b) (list a b))
      ((_ a b c) 'no-literal)))
  (let ((=> 0)) (m 1 => 2)))
(test "else-literal-in-cond-bound-locally" 'not-else
  (let ((else #f)) (cond (else 'else) (#t 'not-else))))
(test "underscore-matches-anything" 2
  (define-syntax second (syntax-rules () ((_ _ b . _) b)))
  (second 1 2 3 4))
(test "underscore-as-literal" '(lit other)
  (define-syntax m (syntax-rules (_) ((m _) 'lit) ((m x) 'other)))
  (list (m _) (m 1)))
(test "ellipsis-zero-matches" '()
  (define-syntax my-list (syntax-rules () ((_ x ...) (list x ...))))
  (my-list))
(test "ellipsis-several-matches" '(1 2 3)
  (define-syntax my-list (syntax-rules () ((_ x ...) (list x ...))))
  (my-list 1 2 3))
(test "ellipsis-followed-by-patterns" '(3 (1 2))
  (define-syntax last-and-rest
    (syntax-rules () ((_ a ... b) (list b '(a ...)))))
  (last-and-rest 1 2 3))
(test "ellipsis-followed-by-two-patterns" '(2 3 (1))
  (define-syntax m (syntax-rules () ((_ a ... b c) (list b c '(a ...)))))
  (m 1 2 3))
(test "ellipsis-with-dotted-tail" '((1 2) 3)
  (define-syntax m (syntax-rules () ((_ a ... . r) (list '(a ...) 'r))))
  (m 1 2 . 3))
(test "ellipsis-after-subpattern" '((a . 1) (b . 2))
  (define-syntax alist (syntax-rules () ((_ (k v) ...) (list (cons 'k v) ...))))
  (alist (a 1) (b 2)))
(test "nested-ellipsis" '((1 2) (3) ())
  (define-syntax groups (syntax-rules () ((_ (x ...) ...) (list (list x ...) ...))))
  (groups (1 2) (3) ()))
(test "nested-ellipsis-flatten" '(1 2 3 4)
  (define-syntax flat (syntax-rules () ((_ (x ...) ...) '(x ... ...))))
  (flat (1 2) (3) (4)))
(test "depth-zero-variable-in-ellipsis-template" '((0 . 1) (0 . 2))
  (define-syntax pair-with (syntax-rules () ((_ a (b ...)) (list (cons a b) ...))))
  (pair-with 0 (1 2)))
(test "vector-pattern" '(1 2 3)
  (define-syntax vec (syntax-rules () ((_ #(a ...)) (list a ...))))
  (vec #(1 2 3)))
(test "vector-pattern-ellipsis-then-element" '(3 (1 2))
  (define-syntax vec (syntax-rules () ((_ #(a ... b)) (list b '(a ...)))))
  (vec #(1 2 3)))
(test "vector-template" '#(1 2 3)
  (define-syntax vec (syntax-rules () ((_ a ...) #(a ...))))
  (vec 1 2 3))
(test "constant-patterns" '(one two "three" #\4 other)
  (define-syntax m
    (syntax-rules ()
      ((_ 1) 'one) ((_ #t) 'two) ((_ "s") "three") ((_ #\c) #\4) ((_ x) 'other)))
  (list (m 1) (m #t) (m "s") (m #\c) (m 2)))
(test "empty-list-pattern" '(empty nonempty)
  (define-syntax m (syntax-rules () ((_ ()) 'empty) ((_ x) 'nonempty)))
  (list (m ()) (m (1))))
(test "dotted-pattern" '(1 (2 3))
  (define-syntax m (syntax-rules () ((_ a . b) (list a 'b))))
  (m 1 2 3))
(test "first-matching-rule-wins" 'first
  (define-syntax m (syntax-rules () ((_ x) 'first) ((_ x) 'second)))
  (m 1))
(test "keyword-position-ignored" 'ok
  (define-syntax m (syntax-rules () ((anything) 'ok)))
  (m))
(test-error "no-rule-matches" 
  (define-syntax m (syntax-rules () ((_ a) a)))
  (m 1 2))
(test-error "pattern-variable-used-at-wrong-depth"
  (define-syntax m (syntax-rules () ((_ a ...) a)))
  (m 1 2))

;;; ---------------------------------------------------------------- ellipsis escapes and custom ellipsis

(test "be-like-begin-standard-example" 4
  (define-syntax be-like-begin
    (syntax-rules ()
      ((be-like-begin name)
       (define-syntax name
         (syntax-rules ()
           ((name expr (... ...))
            (begin expr (... ...))))))))
  (be-like-begin sequence)
  (sequence 1 2 3 4))
(test "escaped-ellipsis-in-template" '(1 ...)
  (define-syntax m (syntax-rules () ((_ a) '(a (... ...)))))
  (m 1))
(test "escaped-template-sublist" '(x ... y)
  (define-syntax m (syntax-rules () ((_) '(... (x ... y)))))
  (m))
(test "custom-ellipsis" '(1 2 3)
  (define-syntax my-list (syntax-rules ::: () ((_ x :::) (list x :::))))
  (my-list 1 2 3))
(test "custom-ellipsis-frees-dots" '(1 ...)
  (define-syntax m (syntax-rules ::: () ((_ x) '(x ...))))
  (m 1))
(test "custom-ellipsis-in-generated-macro" '(2 3)
  (define-syntax def-lister
    (syntax-rules ()
      ((_ name) (define-syntax name (syntax-rules dots () ((_ x dots) '(x dots)))))))
  (def-lister lst)
  (lst 2 3))
(test "ellipsis-bound-locally-is-not-ellipsis" 'ok
  (let ((... 2))
    (let-syntax ((s (syntax-rules () ((_ x ...) 'bad) ((_ . r) 'ok))))
      (s a b c))))
(test "underscore-bound-locally-is-a-pattern-variable" 5
  (let ((_ 1))
    (let-syntax ((s (syntax-rules () ((s _) _))))
      (s 5))))
(test "custom-ellipsis-literal-has-priority" '(100 ...)
  (define-syntax elli-lit (syntax-rules ... (...) ((_ x) '(x ...))))
  (elli-lit 100))
(test "escaped-ellipsis-around-generated-rules" 4
  (define-syntax be-like-begin2
    (syntax-rules ()
      ((_ name) (define-syntax name (... (syntax-rules () ((name expr ...) (begin expr ...))))))))
  (be-like-begin2 sequence2)
  (sequence2 1 2 3 4))
(test "ellipsis-as-literal" '(lit other)
  (define-syntax m (syntax-rules (...) ((_ ...) 'lit) ((_ x) 'other)))
  (list (m ...) (m 1)))

;;; ---------------------------------------------------------------- definitions and recursion

(test "recursive-macro" 6
  (define-syntax my-add
    (syntax-rules () ((_) 0) ((_ x y ...) (+ x (my-add y ...)))))
  (my-add 1 2 3))
(test "macro-expanding-to-definition" 42
  (define-syntax def (syntax-rules () ((_ name v) (define name v))))
  (def answer 42)
  answer)
(test "macro-expanding-to-internal-definitions" 3
  (define-syntax def2
    (syntax-rules () ((_ a b) (begin (define a 1) (define b 2)))))
  (let () (def2 x y) (+ x y)))
(test "macro-defining-macro" 10
  (define-syntax def-const-macro
    (syntax-rules () ((_ name v) (define-syntax name (syntax-rules () ((_) v))))))
  (def-const-macro ten 10)
  (ten))
(test "internal-define-syntax" 8
  (let ()
    (define-syntax twice (syntax-rules () ((_ e) (* 2 e))))
    (twice 4)))
(test "internal-define-syntax-used-by-later-define" 9
  (let ()
    (define-syntax sq (syntax-rules () ((_ e) (* e e))))
    (define nine (sq 3))
    nine))
(test "macro-used-in-procedure-before-redefinition" 'first
  (define-syntax m (syntax-rules () ((_) 'first)))
  (define (f) (m))
  (f))
(test "macro-generated-toplevel-names-are-usable" 5
  (define-syntax make-getter
    (syntax-rules () ((_ name v) (begin (define tmp v) (define (name) tmp)))))
  (make-getter get-five 5)
  (get-five))
(test "macro-generated-definitions-see-each-other" 100
  (define-syntax ffoo
    (syntax-rules ()
      ((_ ff) (begin (define (ff x) (gg x)) (define (gg x) (* x x))))))
  (ffoo ff)
  (ff 10))
(test "macro-generated-helper-is-not-the-program-name" '(9 mine)
  (define gg 'mine)
  (define-syntax ffoo
    (syntax-rules ()
      ((_ ff) (begin (define (ff x) (gg x)) (define (gg x) (* x x))))))
  (ffoo ff)
  (list (ff 3) gg))
(test "internal-macro-defines-macro" 'x
  (let ()
    (define-syntax foo
      (syntax-rules () ((foo bar y) (define-syntax bar (syntax-rules () ((bar x) 'y))))))
    (foo bar x)
    (bar 1)))
(test "let-syntax-body-definitions-splice-into-body" 'ok
  (let () (let-syntax () (define internal-def 'ok)) internal-def))
(test "letrec-syntax-body-definitions-splice-into-body" 'ok
  (let () (letrec-syntax () (define internal-def 'ok)) internal-def))
(test "let-syntax-redefinition-stays-inside" 1
  (let () (define x 1) (let-syntax () (define x 2) #f) x))
(test "let-syntax-spliced-macros-stay-inside" '(mac proc)
  (let ()
    (define (m) 'proc)
    (let-syntax ((m (syntax-rules () ((_) 'mac)))) (define a (m)))
    (list a (m))))
(test-error "letrec-syntax-expanding-forever-is-an-error"
  (letrec-syntax ((m (syntax-rules () ((_ x) (m x))))) (m 1)))
(test "macro-introducing-loop" '(3 2 1)
  (define-syntax while
    (syntax-rules ()
      ((_ c body ...) (let lp () (when c body ... (lp))))))
  (define i 0)
  (define acc '())
  (while (< i 3) (set! i (+ i 1)) (set! acc (cons i acc)))
  acc)
(test "macro-argument-evaluated-where-used" 2
  (define-syntax dup (syntax-rules () ((_ e) (begin e e))))
  (define n 0)
  (dup (set! n (+ n 1)))
  n)
(test "hygienic-loop-variable" '(1 2 3)
  (define-syntax my-for
    (syntax-rules (in)
      ((_ x in lst body ...) (for-each (lambda (x) body ...) lst))))
  (define out '())
  (my-for i in '(1 2 3) (set! out (cons i out)))
  (reverse out))
(test "macro-shadowing-special-form-name" 'mine
  (let-syntax ((if (syntax-rules () ((_ a b c) 'mine))))
    (if #t 1 2)))

;;; ---------------------------------------------------------------- 4.3.3 signaling errors in macro transformers

(test-error "syntax-error"
  (define-syntax must-be-pair
    (syntax-rules ()
      ((_ (a . b)) 'ok)
      ((_ x) (syntax-error "expected a pair but got" x))))
  (must-be-pair 1))
(test "syntax-error-not-expanded-when-unused" 'ok
  (define-syntax must-be-pair
    (syntax-rules ()
      ((_ (a . b)) 'ok)
      ((_ x) (syntax-error "expected a pair but got" x))))
  (must-be-pair (1 . 2)))
(test "simple-let-standard-example" 3
  (define-syntax simple-let
    (syntax-rules ()
      ((_ (head ... ((x . y) val) . tail) body1 body2 ...)
       (syntax-error "expected an identifier but got" (x . y)))
      ((_ ((name val) ...) body1 body2 ...)
       ((lambda (name ...) body1 body2 ...) val ...))))
  (simple-let ((a 1) (b 2)) (+ a b)))
(test-error "simple-let-standard-example-error"
  (define-syntax simple-let
    (syntax-rules ()
      ((_ (head ... ((x . y) val) . tail) body1 body2 ...)
       (syntax-error "expected an identifier but got" (x . y)))
      ((_ ((name val) ...) body1 body2 ...)
       ((lambda (name ...) body1 body2 ...) val ...))))
  (simple-let ((a 1) ((b c) 2)) (+ a b)))
(test "syntax-error-message-and-irritants" '("expected a pair but got" (1))
  (guard (e ((error-object? e) (list (error-object-message e) (error-object-irritants e))))
    (eval '(let-syntax ((must-be-pair (syntax-rules ()
                                        ((_ (a . b)) 'ok)
                                        ((_ x) (syntax-error "expected a pair but got" x)))))
             (must-be-pair 1))
          (interaction-environment))))
(test-error "malformed-syntax-rules" (define-syntax m (syntax-rules)))
(test-error "macro-keyword-as-variable" (define-syntax m (syntax-rules () ((_) 1))) (+ m 1))

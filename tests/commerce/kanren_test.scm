;;; kanren_test.scm -- self-checking tests for schemes/kanren.scm.
;;; Evaluate after kanren.scm (and pricing.scm).  Prints "ok N name" or
;;; "FAIL N name: ..." per check, then "PASS passed/total".

(define kt-total 0)
(define kt-failed 0)

(define (kt-check name got expected)
  (set! kt-total (+ kt-total 1))
  (if (equal? got expected)
      (begin (display "ok ") (display kt-total) (display " ")
             (display name) (newline))
      (begin (set! kt-failed (+ kt-failed 1))
             (display "FAIL ") (display kt-total) (display " ")
             (display name) (display ": expected ") (write expected)
             (display ", got ") (write got) (newline))))

(define (kt-count x xs)
  (cond ((null? xs) 0)
        ((equal? x (car xs)) (+ 1 (kt-count x (cdr xs))))
        (else (kt-count x (cdr xs)))))

;;; Unification and reification

(kt-check "== binds" (run* (q) (== q 5)) '(5))
(kt-check "== symmetric" (run* (q) (== 5 q)) '(5))
(kt-check "== of different atoms fails" (run* (q) (== 5 6)) '())
(kt-check "#f and 0 do not unify" (run* (q) (== #f 0)) '())
(kt-check "#t and 1 do not unify" (run* (q) (== #t 1)) '())
(kt-check "strings unify by content" (run* (q) (== (string #\a) "a")) '(_.0))
(kt-check "pairs unify structurally"
          (run* (q) (fresh (a b) (== (cons a b) '(1 2 3)) (== q (list b a))))
          '(((2 3) 1)))
(kt-check "occurs check" (run* (q) (== q (list q))) '())
(kt-check "occurs check through a chain"
          (run* (q) (fresh (a b) (== a (list b)) (== b (list q)) (== q a)))
          '())
(kt-check "fresh variable reifies as _.0" (run* (q) succeed) '(_.0))
(kt-check "reification numbers left to right"
          (run* (q) (fresh (x y) (== q (list y x y))))
          '((_.0 _.1 _.0)))
(kt-check "reified answers share nothing across answers"
          (run* (q) (conde ((fresh (x) (== q (list x)))) ((fresh (x y) (== q (list y x))))))
          '((_.0) (_.0 _.1)))
(kt-check "vectors unify element-wise"
          (run* (q) (fresh (a) (== (vector a 2) (vector 1 q))))
          '(2))
(kt-check "vectors of different lengths do not unify"
          (run* (q) (== (vector 1 2) (vector 1 2 q)))
          '())
(kt-check "vectors reify" (run* (q) (fresh (a) (== q (vector a 'b)))) (list (vector '_.0 'b)))
(kt-check "multi-variable run answers lists"
          (run* (a b) (== a 1) (== b 2))
          '((1 2)))
(kt-check "fail gives no answers" (run* (q) fail) '())
(kt-check "conj of nothing succeeds" (run* (q) (conj)) '(_.0))
(kt-check "disj of nothing fails" (run* (q) (disj)) '())
(kt-check "conj/disj procedures"
          (run* (q) (disj (conj (== q 1) succeed) (== q 2)))
          '(1 2))

;;; Host-level internals

(kt-check "var? on a variable" (var? (make-var 3)) #t)
(kt-check "var? on other vectors" (list (var? (vector 1 2)) (var? (vector 'kanren-var)) (var? 'x)) '(#f #f #f))
(kt-check "unify extends the substitution" (unify (make-var 0) 5 '()) '((0 . 5)))
(kt-check "unify fails with #f" (unify 1 2 '()) #f)
(kt-check "walk follows chains"
          (walk (make-var 0) (list (cons 0 (make-var 1)) (cons 1 'x)))
          'x)
(kt-check "walk* resolves inside structure"
          (walk* (list (make-var 0) (make-var 1)) (list (cons 0 (make-var 1)) (cons 1 'x)))
          '(x x))

;;; run n

(kt-check "run n takes the first n" (run 2 (q) (membero q '(a b c))) '(a b))
(kt-check "run 0" (run 0 (q) (== q 1)) '())
(kt-check "run n with fewer answers" (run 5 (q) (membero q '(a b))) '(a b))
(kt-check "conde order for finite clauses"
          (run* (q) (conde ((== q 1)) ((== q 2)) ((== q 3))))
          '(1 2 3))
(kt-check "conde clause conjunction"
          (run* (q) (fresh (a b) (conde ((== a 1) (== b 2)) ((== a 3) (== b 4))) (== q (list a b))))
          '((1 2) (3 4)))

;;; Interleaving: an infinite branch never starves the others

(kt-check "nevero does not starve a later clause"
          (run 1 (q) (conde ((nevero)) ((== q 1))))
          '(1))
(kt-check "nevero does not starve an infinite producer"
          (run 5 (q) (conde ((nevero)) ((anyo (== q 1)))))
          '(1 1 1 1 1))
(kt-check "nevero after the producer"
          (run 5 (q) (conde ((anyo (== q 1))) ((nevero))))
          '(1 1 1 1 1))
(kt-check "two infinite producers interleave"
          (let ((answers (run 10 (q) (conde ((anyo (== q 1))) ((anyo (== q 2)))))))
            (list (length answers) (>= (kt-count 1 answers) 3) (>= (kt-count 2 answers) 3)))
          '(10 #t #t))
(kt-check "three clauses, two diverging"
          (run 3 (q) (conde ((nevero)) ((nevero)) ((alwayso) (== q 7))))
          '(7 7 7))
(kt-check "alwayso in a conjunction"
          (run 3 (q) (alwayso) (== q 'x))
          '(x x x))
(kt-check "anyo over a disjunction"
          (let ((answers (run 6 (q) (anyo (conde ((== q 'a)) ((== q 'b)))))))
            (list (length answers) (> (kt-count 'a answers) 0) (> (kt-count 'b answers) 0)))
          '(6 #t #t))
(kt-check "infinite generator then a filter"
          (run 1 (q) (membero 'x q) (fresh (d) (== q (list 'y 'x d))))
          '((y x _.0)))
(kt-check "deep recursion through relations"
          (length (run* (q) (betweeno 1 2000 q)))
          2000)

;;; List relations

(kt-check "nullo" (run* (q) (nullo q)) '(()))
(kt-check "conso" (run* (q) (conso 1 '(2) q)) '((1 2)))
(kt-check "caro" (run* (q) (caro '(a b) q)) '(a))
(kt-check "cdro" (run* (q) (cdro '(a b) q)) '((b)))
(kt-check "pairo" (run* (q) (pairo q)) '((_.0 . _.1)))
(kt-check "pairo on an atom fails" (run* (q) (pairo 'a)) '())
(kt-check "membero enumerates in order" (run* (q) (membero q '(a b c))) '(a b c))
(kt-check "membero of an absent element" (run* (q) (membero 'z '(a b c))) '())
(kt-check "membero generates lists"
          (run 3 (q) (membero 'x q))
          '((x . _.0) (_.0 x . _.1) (_.0 _.1 x . _.2)))
(kt-check "appendo forwards" (run* (q) (appendo '(1 2) '(3) q)) '((1 2 3)))
(kt-check "appendo backwards"
          (run* (x y) (appendo x y '(1 2 3)))
          '((() (1 2 3)) ((1) (2 3)) ((1 2) (3)) ((1 2 3) ())))
(kt-check "appendo solving for a prefix" (run* (q) (appendo q '(3) '(1 2 3))) '((1 2)))

;;; Impure control

(kt-check "project sees ground values"
          (run* (q) (fresh (x) (== x 5) (project (x) (== q (* x x)))))
          '(25))
(kt-check "conda commits to the first succeeding head"
          (run* (q) (conda ((== q 1)) ((== q 2))))
          '(1))
(kt-check "conda falls through a failing head"
          (run* (q) (conda (fail (== q 1)) ((== q 2))))
          '(2))
(kt-check "conda keeps every answer of the head"
          (run* (q) (conda ((membero q '(a b))) ((== q 'c))))
          '(a b))
(kt-check "condu keeps only the first answer of the head"
          (run* (q) (condu ((membero q '(a b))) ((== q 'c))))
          '(a))
(kt-check "onceo of an infinite goal" (run* (q) (onceo (alwayso))) '(_.0))
(kt-check "onceo of a choice" (run* (q) (onceo (membero q '(x y)))) '(x))

;;; Integer goals

(kt-check "pluso a b -> c" (run* (q) (pluso 2 3 q)) '(5))
(kt-check "pluso a c -> b" (run* (q) (pluso 2 q 5)) '(3))
(kt-check "pluso b c -> a" (run* (q) (pluso q 3 5)) '(2))
(kt-check "pluso checks when ground" (run* (q) (pluso 2 3 6)) '())
(kt-check "pluso with negatives" (run* (q) (pluso q 10 3)) '(-7))
(kt-check "pluso fails on a string" (run* (q) (pluso "a" 3 q)) '())
(kt-check "pluso fails on an inexact number" (run* (q) (pluso 1.5 1 q)) '())
(kt-check "pluso fails on #f" (run* (q) (pluso #f 1 q)) '())
(kt-check "pluso with bignums"
          (run* (q) (pluso 100000000000000000000 1 q))
          '(100000000000000000001))
(kt-check "minuso forwards" (run* (q) (minuso 10 3 q)) '(7))
(kt-check "minuso for the subtrahend" (run* (q) (minuso 10 q 3)) '(7))
(kt-check "minuso for the minuend" (run* (q) (minuso q 3 7)) '(10))
(kt-check "timeso forwards" (run* (q) (timeso 3 4 q)) '(12))
(kt-check "timeso for a factor" (run* (q) (timeso q 4 12)) '(3))
(kt-check "timeso for the other factor" (run* (q) (timeso 4 q 12)) '(3))
(kt-check "timeso with no integer factor" (run* (q) (timeso q 5 12)) '())
(kt-check "timeso 0 * b = 0 leaves b fresh" (run* (q) (timeso 0 q 0)) '(_.0))
(kt-check "timeso 0 * b = 5 fails" (run* (q) (timeso 0 q 5)) '())
(kt-check "quotiento rounds down" (run* (q) (quotiento 7 2 q)) '(3))
(kt-check "quotiento floors negatives" (run* (q) (quotiento -7 2 q)) '(-4))
(kt-check "quotiento by zero fails" (run* (q) (quotiento 7 0 q)) '())
(kt-check "<o" (list (run* (q) (<o 1 2)) (run* (q) (<o 2 2))) '((_.0) ()))
(kt-check "<=o" (list (run* (q) (<=o 2 2)) (run* (q) (<=o 3 2))) '((_.0) ()))
(kt-check "betweeno enumerates in order" (run* (q) (betweeno 2 5 q)) '(2 3 4 5))
(kt-check "betweeno checks a ground value" (run* (q) (betweeno 2 5 4)) '(_.0))
(kt-check "betweeno rejects out of range" (run* (q) (betweeno 2 5 6)) '())
(kt-check "betweeno with an empty range" (run* (q) (betweeno 5 2 q)) '())
(kt-check "betweeno with pluso backwards"
          (run* (x y) (betweeno 0 3 x) (pluso x y 3))
          '((0 3) (1 2) (2 1) (3 0)))
(kt-check "integer goal walks bound variables"
          (run* (q) (fresh (a b) (== a 4) (== b 5) (pluso a b q)))
          '(9))

;;; The goal macros' in-place paths (== inline, fresh, conde) and the
;;; substitution's shortcuts answer as the textbook definitions do

(kt-check "a locally rebound == is the one a fresh body calls"
          (let ((== (lambda (u v) fail))) (run* (q) (fresh () (== q 1))))
          '())
(kt-check "a locally rebound == is the one a conde clause calls"
          (let ((== (lambda (u v) succeed))) (run* (q) (conde ((== q 1) (== q 2)))))
          '(_.0))
(kt-check "== then more goals in one clause"
          (run* (q) (conde ((== q 1) (== q 2)) ((== q 3) (== q 3) succeed)))
          '(3))
(kt-check "occurs check through a variable bound to a variable"
          (run* (q) (fresh (x) (== x q) (== q (list x))))
          '())
(kt-check "occurs check inside a vector"
          (run* (q) (== q (vector 1 q)))
          '())
(kt-check "a chain of variables reaches its value"
          (run* (q) (fresh (x y) (== x y) (== y 5) (== q x)))
          '(5))
(kt-check "fresh numbers variables apart across nested fresh"
          (run* (q) (fresh (a b) (fresh (c) (== a 1) (== c 3) (== b 2) (== q (list a b c)))))
          '((1 2 3)))
(kt-check "reification names shared inside vectors and lists"
          (run* (q) (fresh (x y) (== q (vector x (list y x)))))
          (list (vector '_.0 '(_.1 _.0))))
(kt-check "a partly bound answer reifies its fresh part"
          (run* (q) (fresh (x y) (== y 2) (== q (cons x y))))
          '((_.0 . 2)))
(kt-check "membero through a list with a fresh tail"
          (run 3 (q) (fresh (t) (membero 'x (cons 'a t)) (== q t)))
          '((x . _.0) (_.0 x . _.1) (_.0 _.1 x . _.2)))
(kt-check "membero over a list of variables bound later"
          (run* (q) (fresh (a b) (membero q (list a b)) (== a 1) (== b 2)))
          '(1 2))
(kt-check "two membero generators interleave as before"
          (run* (q) (fresh (x y) (membero x '(1 2 3)) (membero y '(a b)) (== q (list x y))))
          '((1 a) (1 b) (2 a) (2 b) (3 a) (3 b)))
(kt-check "a generator of finite and infinite branches"
          (run 12 (q) (fresh (x y)
                        (conde ((membero x '(1 2 3))) ((betweeno 10 12 x)))
                        (conde ((== y 'p)) ((anyo (== y 'r))))
                        (== q (list x y))))
          '((10 p) (10 r) (10 r) (1 p) (10 r) (10 r) (1 r) (10 r) (10 r) (1 r) (10 r) (11 p)))
(kt-check "ext-s refuses a binding that would be circular"
          (ext-s (make-var 0) (list 1 (make-var 0)) '())
          #f)
(kt-check "unify of equal atoms leaves the substitution"
          (unify "a" (string #\a) '((7 . 1)))
          '((7 . 1)))
(kt-check "unify binds a variable to a variable"
          (unify (make-var 0) (make-var 1) '())
          (list (cons 0 (make-var 1))))
(kt-check "unify-state1 extends the state, or gives #f"
          (list (unify-state1 (make-var 0) 1 (cons '() 1)) (unify-state1 1 2 (cons '() 1)))
          '((((0 . 1)) . 1) #f))
(kt-check "reify of a state" (reify (list (make-var 0) (make-var 1)) (cons '((0 . a)) 2)) '(a _.0))

;;; Unification counter

(kanren-reset-unifications!)
(kt-check "counter starts at zero after a reset" (kanren-unifications) 0)
(run* (q) (== q 1) (pluso 1 2 q))
(kt-check "counter counts == and integer-goal bindings" (kanren-unifications) 2)

(display "PASS ") (display (- kt-total kt-failed)) (display "/") (display kt-total) (newline)

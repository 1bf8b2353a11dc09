;;; R7RS-small 6.11  Exceptions
;;; with-exception-handler, raise, raise-continuable, error, error-object?,
;;; error-object-message, error-object-irritants, read-error?, file-error?
;;; (guard is in 4.2.7).

(test-output "handler-escapes-standard-example" "condition: an-error\n"
  (call-with-current-continuation
    (lambda (k)
      (with-exception-handler
        (lambda (e)
          (display "condition: ")
          (write e)
          (newline)
          (k 'exception))
        (lambda ()
          (+ 1 (raise 'an-error)))))))
(test "handler-escapes-value" 'exception
  (call-with-current-continuation
    (lambda (k)
      (with-exception-handler
        (lambda (e) (k 'exception))
        (lambda () (+ 1 (raise 'an-error)))))))
(test-output "handler-returning-from-raise-is-an-error" "something went wrong\nouter"
  (guard (e (#t (display "outer")))
    (with-exception-handler
      (lambda (e) (display "something went wrong\n"))
      (lambda () (+ 1 (raise 'an-error))))))
(test-error "handler-returning-from-raise-uncaught"
  (with-exception-handler (lambda (e) 0) (lambda () (raise 'oops))))
(test "raise-continuable-standard-example" 65
  (with-exception-handler
    (lambda (con)
      (cond ((string? con) con)
            (else "a warning has been issued"))
      42)
    (lambda ()
      (+ (raise-continuable "should be a number") 23))))
(test-output "raise-continuable-handler-output" "should be a number"
  (with-exception-handler
    (lambda (con) (if (string? con) (display con)) 42)
    (lambda () (+ (raise-continuable "should be a number") 23))))
(test "handler-runs-with-outer-handler-installed" 104
  (with-exception-handler
    (lambda (e) (* e 2))
    (lambda ()
      (with-exception-handler
        (lambda (e) (+ (raise-continuable (+ e 1)) 100))
        (lambda () (raise-continuable 1))))))
(test "handler-reinstalled-after-raise-continuable" '(1 2)
  (with-exception-handler
    (lambda (e) e)
    (lambda () (list (raise-continuable 1) (raise-continuable 2)))))
(test "with-exception-handler-returns-thunk-value" 3
  (with-exception-handler (lambda (e) 0) (lambda () (+ 1 2))))
(test "with-exception-handler-handler-removed-after-thunk" 'outer
  (call/cc
    (lambda (k)
      (with-exception-handler
        (lambda (e) (k 'outer))
        (lambda ()
          (with-exception-handler (lambda (e) (k 'inner)) (lambda () 'no-raise))
          (raise 'x))))))
(test-output "handler-called-before-unwinding" "before handler after "
  (call/cc
    (lambda (k)
      (with-exception-handler
        (lambda (e) (display "handler ") (k 'x))
        (lambda ()
          (dynamic-wind
            (lambda () (display "before "))
            (lambda () (raise 'e))
            (lambda () (display "after "))))))))
(test "raise-any-object" '(sym boom)
  (guard (e ((symbol? e) (list 'sym e))) (raise 'boom)))
(test "raise-number" 42 (guard (e ((number? e) e)) (raise 42)))
(test "raise-list" '(1 2) (guard (e ((pair? e) e)) (raise (list 1 2))))
(test "raise-false" 'caught-false (guard (e ((not e) 'caught-false)) (raise #f)))
(test-error "raise-uncaught" (raise 'some-symbol))
(test-error "raise-continuable-uncaught" (raise-continuable 'some-symbol))
(test-error "with-exception-handler-non-procedure" (with-exception-handler 5 (lambda () 1)))

;;; ---------------------------------------------------------------- error objects

(test "error-object-message-and-irritants" '("msg" (1 a "s"))
  (guard (e ((error-object? e) (list (error-object-message e) (error-object-irritants e))))
    (error "msg" 1 'a "s")))
(test "error-no-irritants" '()
  (guard (e ((error-object? e) (error-object-irritants e)))
    (error "just a message")))
(test "error-object?-of-raised-non-condition" #f
  (guard (e (#t (error-object? e))) (raise 'sym)))
(test "error-object?-of-non-objects" '(#f #f #f) (list (error-object? 'x) (error-object? "msg") (error-object? '())))
(test "error-is-an-error-object" #t (guard (e (#t (error-object? e))) (error "x")))
(test "error-irritant-identity" #t
  (let ((obj (list 1 2)))
    (guard (e (#t (eq? obj (car (error-object-irritants e))))) (error "m" obj))))
(test "error-from-primitive-is-error-object" #t
  (guard (e (#t (and (error-object? e) (string? (error-object-message e)) (list? (error-object-irritants e)))))
    (car 1)))
(test "error-from-vector-ref-is-error-object" #t
  (guard (e (#t (error-object? e))) (vector-ref (vector) 0)))
(test "error-calls-current-handler" #t
  (call/cc
    (lambda (k)
      (with-exception-handler
        (lambda (e) (k (error-object? e)))
        (lambda () (error "boom"))))))
(test "error-handler-may-not-return" 'secondary
  (guard (e ((eq? e 'secondary) 'secondary) (#t 'secondary))
    (with-exception-handler
      (lambda (e) 'returned)
      (lambda () (error "boom")))))
(test-error "error-uncaught" (error "an error" 1 2))
(test "read-error?" 'read-error
  (guard (e ((read-error? e) 'read-error) (#t (list 'other e)))
    (read (open-input-string "(1 2"))))
(test "read-error?-unterminated-string" 'read-error
  (guard (e ((read-error? e) 'read-error) (#t (list 'other e)))
    (read (open-input-string "\"abc"))))
(test "read-error?-of-other-errors" #f
  (guard (e (#t (read-error? e))) (error "not a read error")))
(test "file-error?" 'file-error
  (guard (e ((file-error? e) 'file-error) (#t (list 'other e)))
    (open-input-file "/nonexistent-r7rs-suite-dir/no-such-file.txt")))
(test "file-error?-of-other-errors" '(#f #f) (list (file-error? 'x) (guard (e (#t (file-error? e))) (error "x"))))
(test "read-error?-file-error?-of-non-objects" '(#f #f) (list (read-error? 1) (file-error? "x")))
(test "error-in-handler-goes-to-outer-handler" 'outer
  (guard (e ((eq? e 'second) 'outer))
    (with-exception-handler
      (lambda (e) (raise 'second))
      (lambda () (raise 'first)))))
(test "nested-guards-innermost-first" 'inner
  (guard (e (#t 'outer))
    (guard (e (#t 'inner))
      (raise 'x))))
(test "exception-from-deep-recursion" 'caught
  (define (f n) (if (= n 0) (raise 'bottom) (+ 1 (f (- n 1)))))
  (guard (e ((eq? e 'bottom) 'caught)) (f 10000)))

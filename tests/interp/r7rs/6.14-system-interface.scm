;;; R7RS-small 6.14  System interface
;;; load, file-exists?, delete-file, command-line, exit, emergency-exit,
;;; get-environment-variable(s), current-second, current-jiffy,
;;; jiffies-per-second, features.

(define (temp-name tag)
  (string-append "/tmp/r7rs-suite-" tag "-" (number->string (current-jiffy)) ".tmp"))

(test "load-defines-in-global-environment" 42
  (define name (temp-name "load"))
  (call-with-output-file name
    (lambda (p) (write '(define r7rs-loaded-value 42) p) (write '(define (r7rs-loaded-proc) r7rs-loaded-value) p)))
  (load name)
  (delete-file name)
  (r7rs-loaded-proc))
(test "load-with-environment-argument" 7
  (define name (temp-name "loadenv"))
  (call-with-output-file name (lambda (p) (write '(define r7rs-loaded-seven 7) p)))
  (load name (interaction-environment))
  (delete-file name)
  r7rs-loaded-seven)
(test "load-defines-macros" 5
  (define name (temp-name "loadmacro"))
  (call-with-output-file name
    (lambda (p) (write '(define-syntax r7rs-five (syntax-rules () ((_) 5))) p)))
  (load name)
  (delete-file name)
  (eval '(r7rs-five) (interaction-environment)))
(test-error "load-missing-file" (load "/nonexistent-r7rs-suite-dir/missing.scm"))
(test "load-error-is-catchable" 'caught
  (define name (temp-name "loaderr"))
  (call-with-output-file name (lambda (p) (write '(car '()) p)))
  (define r (guard (e (#t 'caught)) (load name)))
  (delete-file name)
  r)
(test "file-exists?-missing" #f (file-exists? "/nonexistent-r7rs-suite-dir/missing.txt"))
(test "file-exists?-and-delete-file" '(#t #f)
  (define name (temp-name "exists"))
  (call-with-output-file name (lambda (p) (write-char #\x p)))
  (define before (file-exists? name))
  (delete-file name)
  (list before (file-exists? name)))
(test "delete-file-missing-is-file-error" #t
  (guard (e (#t (file-error? e))) (delete-file "/nonexistent-r7rs-suite-dir/missing.txt") #f))
(test "command-line-is-list-of-strings" #t
  (let ((cl (command-line)))
    (and (list? cl) (let loop ((l cl)) (or (null? l) (and (string? (car l)) (loop (cdr l))))))))
(test-exit "exit-no-argument" 0 "" (exit))
(test-exit "exit-integer" 3 "" (exit 3))
(test-exit "exit-true" 0 "" (exit #t))
(test-exit "exit-false" 1 "" (exit #f))
(test-exit "exit-runs-dynamic-wind-afters" 0 "[in][out]"
  (dynamic-wind
    (lambda () (display "[in]"))
    (lambda () (exit 0))
    (lambda () (display "[out]"))))
(test-exit "exit-runs-nested-afters-innermost-first" 0 "[out2][out1]"
  (dynamic-wind
    (lambda () #f)
    (lambda () (dynamic-wind (lambda () #f) (lambda () (exit 0)) (lambda () (display "[out2]"))))
    (lambda () (display "[out1]"))))
(test-exit "exit-not-caught-by-guard" 4 ""
  (guard (e (#t (display "caught"))) (exit 4)))
(test-exit "exit-from-handler" 5 ""
  (with-exception-handler (lambda (e) (exit 5)) (lambda () (raise 'x))))
(test-exit "emergency-exit-skips-afters" 2 "[in]"
  (dynamic-wind
    (lambda () (display "[in]"))
    (lambda () (emergency-exit 2))
    (lambda () (display "[out]"))))
(test "get-environment-variable-missing" #f (get-environment-variable "R7RS_SUITE_SURELY_NOT_SET_XYZZY"))
(test "get-environment-variable-path" #t
  (let ((v (get-environment-variable "PATH"))) (or (not v) (string? v))))
(test "get-environment-variables-alist" #t
  (let ((al (get-environment-variables)))
    (and (list? al)
         (let loop ((l al))
           (or (null? l)
               (and (pair? (car l)) (string? (caar l)) (string? (cdar l)) (loop (cdr l))))))))
(test "get-environment-variables-agrees" #t
  (let ((al (get-environment-variables)))
    (or (null? al)
        (equal? (cdar al) (get-environment-variable (caar al))))))
(test "current-second-inexact" #t (inexact? (current-second)))
(test "current-second-after-2020" #t (> (current-second) 1577836800.0))
(test "current-jiffy-exact-integer" #t (exact-integer? (current-jiffy)))
(test "current-jiffy-monotonic" #t (let* ((a (current-jiffy)) (b (current-jiffy))) (<= a b)))
(test "jiffies-per-second" #t (let ((j (jiffies-per-second))) (and (exact-integer? j) (positive? j))))
(test "features-list-of-symbols" #t
  (let ((f (features)))
    (and (list? f) (let loop ((l f)) (or (null? l) (and (symbol? (car l)) (loop (cdr l))))))))
(test "features-r7rs" #t (and (memq 'r7rs (features)) #t))
(test "features-agree-with-cond-expand" #t
  (cond-expand (exact-closed (and (memq 'exact-closed (features)) #t)) (else (not (memq 'exact-closed (features))))))
(test-exit "emergency-exit-skips-nested-afters" 3 "[a][b]"
  (dynamic-wind
    (lambda () (display "[a]"))
    (lambda () (dynamic-wind (lambda () (display "[b]")) (lambda () (emergency-exit 3)) (lambda () (display "[/b]"))))
    (lambda () (display "[/a]"))))

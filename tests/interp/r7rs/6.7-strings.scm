;;; R7RS-small 6.7  Strings
;;; string syntax and escapes, constructors, access, mutation (string-set!,
;;; string-fill!, string-copy!), comparisons, case mapping, substring and
;;; conversions, string-map/string-for-each.

(define (written x) (let ((p (open-output-string))) (write x p) (get-output-string p)))

;;; ---------------------------------------------------------------- syntax

(test "string-escapes" '(7 8 9 10 13 34 92 124)
  (map char->integer (string->list "\a\b\t\n\r\"\\\|")))
(test "string-hex-escape" "AλB" "\x41;\x3bb;B")
(test "string-line-continuation" "ab" "a\
      b")
(test "string-line-continuation-trailing-space" "ab" "a\   
   b")
(test "string-literal-newline" 3 (string-length "a
b"))
(test "string-unicode-length" 2 (string-length "λx"))
(test "write-string-escapes" "\"a\\\"b\\\\c\"" (written "a\"b\\c"))
(test "write-string-roundtrip" #t
  (let ((s (list->string (map integer->char '(0 7 9 10 13 34 92 97 127 955)))))
    (equal? s (read (open-input-string (written s))))))
(test "display-string-raw" "a\"b" (let ((p (open-output-string))) (display "a\"b" p) (get-output-string p)))

;;; ---------------------------------------------------------------- constructors and access

(test "string?" '(#t #f #f #f) (list (string? "a") (string? #\a) (string? 'a) (string? '(#\a))))
(test "make-string-fill" "aaa" (make-string 3 #\a))
(test "make-string-length" 3 (string-length (make-string 3)))
(test "make-string-empty" "" (make-string 0 #\a))
(test "string-from-chars" "abc" (string #\a #\b #\c))
(test "string-no-arguments" "" (string))
(test "string-length" '(0 3) (list (string-length "") (string-length "abc")))
(test "string-ref" '(#\a #\c) (list (string-ref "abc" 0) (string-ref "abc" 2)))
(test "string-ref-unicode" #\λ (string-ref "aλb" 1))
(test-error "string-ref-out-of-range" (string-ref "abc" 3))
(test-error "string-ref-negative" (string-ref "abc" -1))
(test-error "string-ref-inexact-index" (string-ref "abc" 1.0))
(test-error "make-string-non-char" (make-string 2 "a"))
(test-error "string-of-non-chars" (string #\a "b"))

;;; ---------------------------------------------------------------- mutation

(test "string-set!" "?**"
  (let ((s (make-string 3 #\*)))
    (string-set! s 0 #\?)
    s))
(test "string-set!-on-copy" "abz"
  (let ((s (string-copy "abc")))
    (string-set! s 2 #\z)
    s))
(test "string-set!-seen-through-alias" "aba"
  (define s (make-string 3 #\a))
  (define t s)
  (string-set! s 1 #\b)
  t)
(test "string-set!-in-list" '("xb")
  (let* ((s (string #\a #\b)) (l (list s)))
    (string-set! s 0 #\x)
    l))
(test "string-set!-unicode" "λb"
  (let ((s (string #\a #\b)))
    (string-set! s 0 #\λ)
    s))
(test-error "string-set!-out-of-range" (string-set! (make-string 2 #\a) 2 #\b))
(test-error "string-set!-non-char" (string-set! (make-string 2 #\a) 0 "b"))
(test "string-copy-is-fresh" "ab"
  (let* ((a (string #\a #\b)) (b (string-copy a)))
    (string-set! b 0 #\z)
    a))
(test "string-fill!" "bbbb"
  (let ((s (make-string 4 #\a)))
    (string-fill! s #\b)
    s))
(test "string-fill!-range" "abba"
  (let ((s (make-string 4 #\a)))
    (string-fill! s #\b 1 3)
    s))
(test "string-fill!-start-only" "aabb"
  (let ((s (make-string 4 #\a)))
    (string-fill! s #\b 2)
    s))
(test "string-copy!-standard-example" "a12de"
  (define a "12345")
  (define b (string-copy "abcde"))
  (string-copy! b 1 a 0 2)
  b)
(test "string-copy!-whole" "xyz"
  (let ((s (make-string 3 #\-)))
    (string-copy! s 0 "xyz")
    s))
(test "string-copy!-overlap-right" "aabce"
  (let ((s (string-copy "abcde")))
    (string-copy! s 1 s 0 3)
    s))
(test "string-copy!-overlap-left" "bcdde"
  (let ((s (string-copy "abcde")))
    (string-copy! s 0 s 1 4)
    s))
(test-error "string-copy!-too-long" (string-copy! (make-string 2 #\a) 0 "abc"))
(test "string-append-fresh" "ab"
  (let* ((a (string #\a)) (r (string-append a "b")))
    (string-set! r 0 #\z)
    (string-append a "b")))
(test-error "string-set!-on-literal" (let ((s "abc")) (string-set! s 0 #\z)))
(test-error "string-set!-on-symbol-name" (string-set! (symbol->string 'abc) 0 #\z))
(test-error "string-fill!-on-literal" (string-fill! "abc" #\z))
(test-error "string-copy!-into-literal" (string-copy! "abc" 0 "x"))
(test-error "string-fill!-end-out-of-range" (string-fill! (make-string 2 #\a) #\b 0 3))
(test-error "string-copy!-at-past-end" (string-copy! (make-string 2 #\a) 3 ""))
(test-error "string-copy!-start-after-end" (string-copy! (make-string 4 #\a) 0 "abc" 2 1))
(test "string-copy!-source-range" "xbcy"
  (let ((s (string-copy "xxxy")))
    (string-copy! s 1 "abcd" 1 3)
    s))
(test "string-copy!-returns-and-keeps-source" "abc"
  (let ((src (string-copy "abc")) (dst (make-string 3 #\-)))
    (string-copy! dst 0 src)
    (string-set! dst 0 #\z)
    src))
(test "mutable-strings-are-equal-to-literals" '(#t #t #t #f)
  (let ((s (string-copy "xbc")))
    (string-set! s 0 #\a)
    (list (equal? s "abc") (string=? "abc" s) (equal? (list s) '("abc")) (eq? s "abc"))))
(test "substring-of-mutated-string" "bz"
  (let ((s (string-copy "abc")))
    (string-set! s 2 #\z)
    (substring s 1 3)))

;;; ---------------------------------------------------------------- comparisons

(test "string=?" '(#t #f #t #f) (list (string=? "a" "a") (string=? "a" "b") (string=? "a" "a" "a") (string=? "a" "a" "b")))
(test "string<?" '(#t #t #f #f #t)
  (list (string<? "abc" "abd") (string<? "ab" "abc") (string<? "abc" "ab") (string<? "a" "a") (string<? "a" "b" "c")))
(test "string>?" '(#t #f) (list (string>? "b" "a") (string>? "a" "b")))
(test "string<=?-string>=?" '(#t #t #f) (list (string<=? "a" "a" "b") (string>=? "b" "b" "a") (string<=? "b" "a")))
(test "string<?-code-point-order" #t (string<? "Z" "a" "λ"))
(test "string-ci=?" '(#t #f) (list (string-ci=? "abc" "ABC" "aBc") (string-ci=? "abc" "abd")))
(test "string-ci<?" '(#t #f) (list (string-ci<? "a" "B") (string-ci<? "B" "a")))
(test "string-ci-others" '(#t #t #t) (list (string-ci>? "b" "A") (string-ci<=? "a" "A") (string-ci>=? "Z" "z")))
(test-error "string=?-non-string" (string=? "a" 'a))

;;; ---------------------------------------------------------------- case mapping

(test "string-upcase" "ABC1Λ" (string-upcase "abC1λ"))
(test "string-upcase-greek" "ΑΒΓ" (string-upcase "αβγ"))
(test "string-downcase" "abc1" (string-downcase "ABc1"))
(test "string-foldcase" "abc" (string-foldcase "ABc"))
(test "string-downcase-final-sigma" #t (and (member (string-downcase "ΧΑΟΣ") '("χαος" "χαοσ")) #t))

;;; ---------------------------------------------------------------- substrings and conversions

(test "substring" "bc" (substring "abcde" 1 3))
(test "substring-empty" "" (substring "abc" 1 1))
(test-error "substring-end-before-start" (substring "abc" 2 1))
(test-error "substring-end-out-of-range" (substring "abc" 0 4))
(test "string-append" '("" "abc" "abc") (list (string-append) (string-append "abc") (string-append "a" "" "bc")))
(test-error "string-append-non-string" (string-append "a" #\b))
(test "string->list" '(#\a #\b #\c) (string->list "abc"))
(test "string->list-start" '(#\c #\d #\e) (string->list "abcde" 2))
(test "string->list-range" '(#\b #\c) (string->list "abcde" 1 3))
(test "list->string" '("abc" "") (list (list->string '(#\a #\b #\c)) (list->string '())))
(test-error "list->string-non-char" (list->string '(#\a 1)))
(test "string-copy" "abc" (string-copy "abc"))
(test "string-copy-range" '("cde" "bc") (list (string-copy "abcde" 2) (string-copy "abcde" 1 3)))
(test-error "string-copy-bad-range" (string-copy "abc" 2 5))
(test "string->vector" '#(#\A #\B #\C) (string->vector "ABC"))
(test "string->vector-range" '#(#\b) (string->vector "abc" 1 2))
(test "vector->string" "123" (vector->string #(#\1 #\2 #\3)))
(test "vector->string-range" '("bc" "b") (list (vector->string #(#\a #\b #\c) 1) (vector->string #(#\a #\b #\c) 1 2)))

;;; ---------------------------------------------------------------- string-map, string-for-each

(test "string-map" "abdegh" (string-map char-foldcase "AbdEgH"))
(test "string-map-lambda" "IBM"
  (string-map (lambda (c) (integer->char (+ 1 (char->integer c)))) "HAL"))
(test "string-map-two-strings" "StUdLyCaPs"
  (string-map (lambda (c k) ((if (eqv? k #\u) char-upcase char-downcase) c))
              "studlycaps xxx"
              "ululululul"))
(test "string-for-each" '(101 100 99 98 97)
  (let ((v '()))
    (string-for-each (lambda (c) (set! v (cons (char->integer c) v))) "abcde")
    v))
(test "string-for-each-two-strings" '((#\b . #\y) (#\a . #\x))
  (let ((v '()))
    (string-for-each (lambda (a b) (set! v (cons (cons a b) v))) "ab" "xyz")
    v))
(test-output "string-for-each-order" "abc" (string-for-each write-char "abc"))

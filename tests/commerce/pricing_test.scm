;;; pricing_test.scm -- self-checking tests for schemes/pricing.scm.
;;; Evaluate after kanren.scm and pricing.scm.  Prints "ok N name" or
;;; "FAIL N name: ..." per check, then "PASS passed/total".

(define pt-total 0)
(define pt-failed 0)

(define (pt-check name got expected)
  (set! pt-total (+ pt-total 1))
  (if (equal? got expected)
      (begin (display "ok ") (display pt-total) (display " ")
             (display name) (newline))
      (begin (set! pt-failed (+ pt-failed 1))
             (display "FAIL ") (display pt-total) (display " ")
             (display name) (display ": expected ") (write expected)
             (display ", got ") (write got) (newline))))

(define (pt-all? ok? xs)
  (or (null? xs) (and (ok? (car xs)) (pt-all? ok? (cdr xs)))))

(define (pt-distinct? xs)
  (or (null? xs)
      (and (not (member (car xs) (cdr xs))) (pt-distinct? (cdr xs)))))

(define (pt-filter keep? xs)
  (cond ((null? xs) '())
        ((keep? (car xs)) (cons (car xs) (pt-filter keep? (cdr xs))))
        (else (pt-filter keep? (cdr xs)))))

;;; The catalog

(pt-check "six products" (length product-catalog) 6)
(pt-check "skus are distinct strings"
          (let ((skus (map car product-catalog)))
            (and (pt-all? string? skus) (pt-distinct? skus)))
          #t)
(pt-check "prices are positive exact integers"
          (pt-all? (lambda (p) (let ((x (caddr p))) (and (integer? x) (exact? x) (> x 0))))
                   product-catalog)
          #t)

;;; catalogo

(pt-check "catalogo by sku" (run* (n p) (catalogo "mug" n p)) '(("Stoneware mug" 1200)))
(pt-check "catalogo by price" (run* (s) (fresh (n) (catalogo s n 450))) '("tea"))
(pt-check "catalogo enumerates in catalog order"
          (run* (s) (fresh (n p) (catalogo s n p)))
          (map car product-catalog))
(pt-check "catalogo of an unknown sku" (run* (q) (fresh (p) (catalogo "foo" q p))) '())

(pt-check "catalogo by sku with the wrong price" (run* (n) (catalogo "mug" n 1)) '())
(pt-check "catalogo of a ground sku that is not a string" (run* (q) (fresh (p) (catalogo 5 q p))) '())
(pt-check "catalogo of a sku given as a variable bound later"
          (run* (p) (fresh (s n) (catalogo s n p) (== s "honey")))
          '(875))
(define pt-saved-catalog product-catalog)
(set! product-catalog (append product-catalog '(("tea" "Sencha, a second entry" 1))))
(pt-check "catalogo of a ground sku gives each of its entries, in catalog order"
          (run* (p) (fresh (n) (catalogo "tea" n p)))
          '(450 1))
(pt-check "known-sku? sees the catalog as it is now" (known-sku? "tea") #t)
(set! product-catalog pt-saved-catalog)
(pt-check "known-sku? of an unknown sku" (known-sku? "teapot") #f)

;;; line-totalo: quantity times price, 10% off lines of 10 or more,
;;; the discount rounded down to the minor unit

(pt-check "line total" (run* (t) (line-totalo "tea" 2 t)) '(900))
(pt-check "9 units: no bulk discount" (run* (t) (line-totalo "filter" 9 t)) '(3555))
(pt-check "10 units: 10% off" (run* (t) (line-totalo "filter" 10 t)) '(3555))
(pt-check "11 units: discount 434.5 rounds down to 434"
          (run* (t) (line-totalo "filter" 11 t))
          '(3911))
(pt-check "bulk line of the dearest product" (run* (t) (line-totalo "pot" 10 t)) '(35550))
(pt-check "line-totalo for every sku"
          (run* (s t) (line-totalo s 1 t))
          (map (lambda (p) (list (car p) (caddr p))) product-catalog))
(pt-check "line-totalo backwards to the sku" (run* (s) (line-totalo s 2 2400)) '("mug"))
(pt-check "line-totalo with a total nothing costs" (run* (s) (line-totalo s 1 1)) '())
(pt-check "line-totalo of an unknown sku" (run* (t) (line-totalo "foo" 1 t)) '())

(pt-check "bulk-priceo below the threshold" (run* (t) (bulk-priceo 9 4050 t)) '(4050))
(pt-check "bulk-priceo at the threshold" (run* (t) (bulk-priceo 10 4500 t)) '(4050))
(pt-check "bulk-priceo checks a ground total" (run* (q) (bulk-priceo 10 4500 4500)) '())

;;; coupono: WELCOME5 is 500 off from 3000; TEA10 is 10% off from 5000

(pt-check "WELCOME5 below its minimum" (run* (d) (coupono "WELCOME5" 2999 d)) '(0))
(pt-check "WELCOME5 at its minimum" (run* (d) (coupono "WELCOME5" 3000 d)) '(500))
(pt-check "TEA10 below its minimum" (run* (d) (coupono "TEA10" 4999 d)) '(0))
(pt-check "TEA10 at its minimum" (run* (d) (coupono "TEA10" 5000 d)) '(500))
(pt-check "TEA10 rounds the discount down" (run* (d) (coupono "TEA10" 5559 d)) '(555))
(pt-check "unknown coupon fails" (run* (d) (coupono "NOPE" 9000 d)) '())
(pt-check "coupono enumerates the coupons"
          (run* (c d) (coupono c 6000 d))
          '(("WELCOME5" 500) ("TEA10" 600)))

;;; cart-totalo / cart-quoteo

(pt-check "empty cart totals 0" (run* (t) (cart-totalo '() t)) '(0))
(pt-check "two-line cart" (run* (t) (cart-totalo '(("tea" 2) ("mug" 1)) t)) '(2100))
(pt-check "cart with an unknown sku has no total"
          (run* (t) (cart-totalo '(("tea" 2) ("foo" 1)) t))
          '())
(pt-check "cart-totalo solving for a sku"
          (run* (s) (cart-totalo (list (list s 2)) 2400))
          '("mug"))
(pt-check "cart-totalo solving for a sku among several lines"
          (run* (s t) (cart-totalo (list (list s 1) (list "tea" 10)) t))
          '(("tea" 4500) ("mug" 5250) ("filter" 4445) ("honey" 4925) ("tray" 6450) ("pot" 8000)))
(pt-check "cart-quoteo lines"
          (run* (l t) (cart-quoteo '(("honey" 1) ("tea" 10)) l t))
          '(((("honey" 1 875 875) ("tea" 10 450 4050)) 4925)))

;;; price-cart: the forward quote

(define five-line-cart '(("tea" 2) ("mug" 1) ("filter" 11) ("honey" 3) ("pot" 10)))

(kanren-reset-unifications!)
(pt-check "price-cart on a five-line cart"
          (price-cart five-line-cart)
          '((("tea" 2 450 900) ("mug" 1 1200 1200) ("filter" 11 395 3911)
             ("honey" 3 875 2625) ("pot" 10 3950 35550))
            44186))
(pt-check "five-line quote needs under 1000 unifications"
          (< (kanren-unifications) 1000)
          #t)
(pt-check "price-cart on one line" (price-cart '(("tray" 1))) '((("tray" 1 2400 2400)) 2400))
(pt-check "price-cart is deterministic"
          (equal? (price-cart five-line-cart) (price-cart five-line-cart))
          #t)
(pt-check "price-cart keeps the cart's line order"
          (map car (car (price-cart '(("pot" 1) ("tea" 1)))))
          '("pot" "tea"))

;;; quote-order: with a coupon

(pt-check "quote-order without a coupon"
          (quote-order '(("mug" 3)) #f)
          '((("mug" 3 1200 3600)) 3600 0 3600))
(pt-check "quote-order with WELCOME5"
          (quote-order '(("mug" 3)) "WELCOME5")
          '((("mug" 3 1200 3600)) 3600 500 3100))
(pt-check "quote-order with a coupon below its minimum"
          (quote-order '(("mug" 1)) "WELCOME5")
          '((("mug" 1 1200 1200)) 1200 0 1200))
(pt-check "quote-order with TEA10"
          (cdr (quote-order '(("pot" 2)) "TEA10"))
          '(7900 790 7110))

;;; cart-problem: invalid input is detected, the first problem named

(pt-check "valid cart has no problem" (cart-problem five-line-cart) #f)
(pt-check "not a list" (cart-problem 5) "cart must be a list of (sku quantity) lines")
(pt-check "improper list" (cart-problem '(("tea" 1) . x)) "cart must be a list of (sku quantity) lines")
(pt-check "empty cart" (cart-problem '()) "cart is empty")
(pt-check "unknown sku" (cart-problem '(("tea" 1) ("foo" 2))) "unknown sku: foo")
(pt-check "zero quantity" (cart-problem '(("tea" 0))) "quantity must be a positive integer: 0")
(pt-check "negative quantity" (cart-problem '(("tea" -2))) "quantity must be a positive integer: -2")
(pt-check "fractional quantity" (cart-problem '(("tea" 1.5))) "quantity must be a positive integer: 1.5")
(pt-check "inexact integral quantity"
          (cart-problem '(("tea" 2.0)))
          (string-append "quantity must be a positive integer: " (number->string 2.0)))
(pt-check "quantity given as a string"
          (cart-problem '(("tea" "2")))
          "quantity must be a positive integer: \"2\"")
(pt-check "quantity #t" (cart-problem '(("tea" #t))) "quantity must be a positive integer: #t")
(pt-check "sku given as a symbol" (cart-problem '((tea 1))) "sku must be a string: tea")
(pt-check "line too short" (cart-problem '(("tea"))) "malformed line: (\"tea\")")
(pt-check "line too long" (cart-problem '(("tea" 1 2))) "malformed line: (\"tea\" 1 2)")
(pt-check "line not a list" (cart-problem '("tea")) "malformed line: \"tea\"")
(pt-check "duplicate sku" (cart-problem '(("tea" 1) ("mug" 1) ("tea" 2))) "duplicate sku: tea")
(pt-check "first problem wins"
          (cart-problem '(("tea" 0) ("foo" 1)))
          "quantity must be a positive integer: 0")
(pt-check "coupon-problem on a known code" (coupon-problem "WELCOME5") #f)
(pt-check "coupon-problem on an unknown code" (coupon-problem "nope") "unknown coupon: nope")
(pt-check "coupon-problem on a non-string" (coupon-problem 5) "coupon code must be a string: 5")

;;; carts-costing: the backward query

(pt-check "carts costing 2400" (carts-costing 2400 3) '((("tray" 1)) (("mug" 2))))
(pt-check "carts costing 4800"
          (carts-costing 4800 3)
          '((("tray" 2)) (("mug" 2) ("tray" 1))))
(pt-check "carts costing 1650" (carts-costing 1650 3) '((("tea" 1) ("mug" 1))))
(pt-check "max-units bounds the answers" (carts-costing 2400 1) '((("tray" 1))))
(pt-check "a total nothing costs" (carts-costing 1 3) '())
(pt-check "a negative total" (carts-costing -450 3) '())
(pt-check "total 0 is the empty cart" (carts-costing 0 3) '(()))
(pt-check "max-units 0" (carts-costing 450 0) '())
(kanren-reset-unifications!)
(carts-costing 2400 3)
(pt-check "backward query needs under 5000 unifications"
          (< (kanren-unifications) 5000)
          #t)
(pt-check "every answer prices to the total"
          (map (lambda (cart) (cadr (price-cart cart))) (carts-costing 4800 3))
          '(4800 4800))

;; small-carto enumerates canonical carts; with cart-totalo run forwards
;; on each it answers the same question by brute force.
(define all-small-carts (run* (c t) (small-carto 3 c) (cart-totalo c t)))

(pt-check "84 carts of at most 3 units over 6 products" (length all-small-carts) 84)
(pt-check "28 carts of at most 2 units" (length (run* (c) (small-carto 2 c))) 28)
(pt-check "small carts are distinct" (pt-distinct? (map car all-small-carts)) #t)
(pt-check "small carts are valid (or empty)"
          (pt-all? (lambda (ct) (or (null? (car ct)) (not (cart-problem (car ct)))))
                   all-small-carts)
          #t)

(define (brute-force-carts total)
  (pricing-merge-sort
   (map car (pt-filter (lambda (ct) (= (cadr ct) total)) all-small-carts))
   cart<?))

(pt-check "backward query agrees with brute force"
          (map (lambda (total) (equal? (carts-costing total 3) (brute-force-carts total)))
               '(0 450 1350 2045 2400 4800 5150 11850 12000 777))
          '(#t #t #t #t #t #t #t #t #t #t))

(display "PASS ") (display (- pt-total pt-failed)) (display "/") (display pt-total) (newline)

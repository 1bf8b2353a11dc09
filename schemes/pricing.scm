;;; pricing.scm -- the shop's prices, as relations on kanren.scm.
;;;
;;; Loads nothing itself: the host loads schemes/kanren.scm first, then this.
;;; All amounts are exact integers in minor units (cents).
;;;
;;; Data
;;;   product-catalog          list of (sku name unit-price); skus are strings.
;;;   coupon-rules             list of (code minimum-subtotal kind amount);
;;;                            kind 'fixed: amount off; kind 'percent: amount %
;;;                            off, rounded down to the minor unit.
;;;   bulk-discount-min-qty    10: a line of at least this many units ...
;;;   bulk-discount-percent    10: ... costs this % less, the discount rounded
;;;                            down to the minor unit:
;;;                            line = gross - floor(gross * 10 / 100).
;;;
;;; Relations (modes: which arguments must be ground)
;;;   (catalogo sku name price)      a catalog entry; any mode (fresh
;;;                                  arguments enumerate the catalog in order).
;;;   (line-totalo sku qty total)    the price of qty units of sku, bulk
;;;                                  discount included; qty ground (a fresh qty
;;;                                  is an instantiation error), sku may be
;;;                                  fresh (enumerates the catalog).
;;;   (coupono code subtotal discount)  the discount coupon code gives on
;;;                                  subtotal: 0 below the coupon's minimum;
;;;                                  subtotal ground, code may be fresh
;;;                                  (enumerates the coupons).  Unknown codes fail.
;;;   (bulk-priceo qty gross total)  total is gross less the bulk discount
;;;                                  due on qty units; qty ground.
;;;   (cart-quoteo cart lines total) cart is a list of (sku qty); lines the
;;;                                  list of (sku qty unit-price line-total);
;;;                                  total their sum.  The cart's quantities
;;;                                  ground (its skus may be fresh).
;;;   (cart-totalo cart total)       cart-quoteo without the lines.
;;;   (small-carto max-units cart)   cart is a canonical cart of at most
;;;                                  max-units units (ground): skus distinct,
;;;                                  in catalog order, quantities >= 1.
;;;   (cart-costso max-units total cart)  cart is a canonical cart of at most
;;;                                  max-units units whose total is total
;;;                                  (both ground): small-carto's search,
;;;                                  pruned by running line-totalo forwards
;;;                                  and pluso backwards on the remaining
;;;                                  budget.  Same answers as
;;;                                  (small-carto n cart) (cart-totalo cart total).
;;;
;;; Procedures
;;;   (cart-problem cart)            #f, or a string naming the first problem:
;;;                                  "cart must be a list of (sku quantity) lines",
;;;                                  "cart is empty",
;;;                                  "malformed line: <line>",
;;;                                  "sku must be a string: <sku>",
;;;                                  "unknown sku: <sku>",
;;;                                  "quantity must be a positive integer: <qty>",
;;;                                  "duplicate sku: <sku>".
;;;   (coupon-problem code)          #f, or "coupon code must be a string: <code>"
;;;                                  or "unknown coupon: <code>".
;;;   (price-cart cart)              the forward quote, (lines total), found by
;;;                                  running cart-quoteo forwards; an invalid
;;;                                  cart is an error carrying cart-problem's text.
;;;   (quote-order cart code)        (lines subtotal discount total) with coupon
;;;                                  code applied (code #f: no coupon); an
;;;                                  invalid cart or unknown code is an error.
;;;   (carts-costing total max-units)  every canonical cart of at most
;;;                                  max-units units costing exactly total
;;;                                  (run* over cart-costso), sorted: fewer
;;;                                  units first, then line by line by catalog
;;;                                  position, then smaller quantity.  The
;;;                                  search grows with the number of carts of
;;;                                  max-units units (84 for 3 units over 6
;;;                                  products); a non-integer argument is an error.

;;; ------------------------------------------------------------------
;;; Data

(define product-catalog
  '(("tea"    "Sencha green tea, 100 g"  450)
    ("mug"    "Stoneware mug"            1200)
    ("filter" "Paper tea filters, 100"   395)
    ("honey"  "Wildflower honey, 250 g"  875)
    ("tray"   "Bamboo serving tray"      2400)
    ("pot"    "Cast-iron teapot, 0.8 l"  3950)))

(define coupon-rules
  '(("WELCOME5" 3000 fixed 500)
    ("TEA10"    5000 percent 10)))

(define bulk-discount-min-qty 10)

(define bulk-discount-percent 10)

;;; ------------------------------------------------------------------
;;; Relations

;; With the sku ground (the forward quote: the cart names its skus) only that
;; sku's entries are unified, found with assoc, instead of a membero search
;; through the whole catalog; the same answers in the same (catalog) order.
(define (catalogo sku name price)
  (lambda (st)
    (let ((key (walk sku (car st))))
      (if (or (pair? key) (vector? key))
          ((membero (list sku name price) product-catalog) st)
          (catalog-entries-state key name price st)))))

;; The stream of st extended by each catalog entry for sku (ground, atomic).
(define (catalog-entries-state sku name price st)
  (let loop ((entries product-catalog))
    (let ((entry (assoc sku entries)))
      (if entry
          (mplus (unify-state (list sku name price) entry st)
                 (loop (cdr (memq entry entries))))
          '()))))

;; floor(amount * percent / 100), the discount rounded down.
(define (percent-offo amount percent discount)
  (fresh (scaled)
    (timeso amount percent scaled)
    (quotiento scaled 100 discount)))

(define (line-totalo sku qty total)
  (fresh (name price gross)
    (catalogo sku name price)
    (timeso qty price gross)
    (bulk-priceo qty gross total)))

;; total is gross, less the bulk discount when qty is bulk-discount-min-qty
;; or more (qty ground).  cart-quoteo calls it with the unit price its own
;; catalogo found, so a cart line looks its sku up once, not twice.
(define (bulk-priceo qty gross total)
  (conde
    ((<o qty bulk-discount-min-qty) (== total gross))
    ((<=o bulk-discount-min-qty qty)
     (fresh (discount)
       (percent-offo gross bulk-discount-percent discount)
       (minuso gross discount total)))))

(define (coupono code subtotal discount)
  (fresh (minimum kind amount)
    (membero (list code minimum kind amount) coupon-rules)
    (conde
      ((<o subtotal minimum) (== discount 0))
      ((<=o minimum subtotal)
       (conde
         ((== kind 'fixed) (== discount amount))
         ((== kind 'percent) (percent-offo subtotal amount discount)))))))

(define (cart-quoteo cart lines total)
  (conde
    ((nullo cart) (nullo lines) (== total 0))
    ((fresh (sku qty rest name unit gross line-total rest-lines rest-total)
       (conso (list sku qty) rest cart)
       (catalogo sku name unit)
       (timeso qty unit gross)
       (bulk-priceo qty gross line-total)
       (conso (list sku qty unit line-total) rest-lines lines)
       (cart-quoteo rest rest-lines rest-total)
       (pluso line-total rest-total total)))))

(define (cart-totalo cart total)
  (fresh (lines)
    (cart-quoteo cart lines total)))

;; Canonical carts drawn from products (a tail of the catalog), at most
;; units units: each product is either skipped or taken 1..units times.
(define (carts-fromo products units cart)
  (conde
    ((nullo products) (nullo cart))
    ((fresh (product rest sku name price)
       (conso product rest products)
       (== product (list sku name price))
       (conde
         ((carts-fromo rest units cart))
         ((fresh (qty left more)
            (betweeno 1 units qty)
            (minuso units qty left)
            (conso (list sku qty) more cart)
            (carts-fromo rest left more))))))))

(define (small-carto max-units cart)
  (carts-fromo product-catalog max-units cart))

;; Canonical carts drawn from products, at most units units, costing exactly
;; budget: carts-fromo, pruned as it goes by running line-totalo forwards and
;; pluso backwards (budget = line-total + rest-budget, solved for rest-budget).
(define (costed-carts-fromo products units budget cart)
  (conde
    ((nullo products) (nullo cart) (== budget 0))
    ((fresh (product rest sku name price)
       (conso product rest products)
       (== product (list sku name price))
       (conde
         ((costed-carts-fromo rest units budget cart))
         ((fresh (qty left line-total rest-budget more)
            (betweeno 1 units qty)
            (line-totalo sku qty line-total)
            (pluso line-total rest-budget budget)
            (<=o 0 rest-budget)
            (minuso units qty left)
            (conso (list sku qty) more cart)
            (costed-carts-fromo rest left rest-budget more))))))))

(define (cart-costso max-units total cart)
  (costed-carts-fromo product-catalog max-units total cart))

;;; ------------------------------------------------------------------
;;; Validation

(define (pricing-escape-string s)
  (let loop ((cs (string->list s)) (acc '()))
    (cond ((null? cs) (list->string (reverse acc)))
          ((memv (car cs) '(#\" #\\))
           (loop (cdr cs) (cons (car cs) (cons #\\ acc))))
          (else (loop (cdr cs) (cons (car cs) acc))))))

;; The written form of a datum, for error messages.
(define (pricing-datum->string x)
  (cond ((string? x) (string-append "\"" (pricing-escape-string x) "\""))
        ((symbol? x) (symbol->string x))
        ((number? x) (number->string x))
        ((eq? x #t) "#t")
        ((eq? x #f) "#f")
        ((null? x) "()")
        ((char? x) (string-append "#\\" (string x)))
        ((vector? x)
         (string-append "#" (pricing-datum->string (vector->list x))))
        ((pair? x)
         (let loop ((x (cdr x)) (acc (pricing-datum->string (car x))))
           (cond ((null? x) (string-append "(" acc ")"))
                 ((pair? x)
                  (loop (cdr x)
                        (string-append acc " " (pricing-datum->string (car x)))))
                 (else (string-append "(" acc " . "
                                      (pricing-datum->string x) ")")))))
        (else "#<object>")))

(define (known-sku? sku)
  (and (assoc sku product-catalog) #t))

(define (positive-exact-integer? x)
  (and (integer? x) (exact? x) (> x 0)))

(define (line-problem line seen)
  (cond ((not (and (list? line) (= (length line) 2)))
         (string-append "malformed line: " (pricing-datum->string line)))
        ((not (string? (car line)))
         (string-append "sku must be a string: "
                        (pricing-datum->string (car line))))
        ((not (known-sku? (car line)))
         (string-append "unknown sku: " (car line)))
        ((not (positive-exact-integer? (cadr line)))
         (string-append "quantity must be a positive integer: "
                        (pricing-datum->string (cadr line))))
        ((member (car line) seen)
         (string-append "duplicate sku: " (car line)))
        (else #f)))

(define (cart-problem cart)
  (cond ((not (list? cart)) "cart must be a list of (sku quantity) lines")
        ((null? cart) "cart is empty")
        (else
         (let loop ((lines cart) (seen '()))
           (if (null? lines)
               #f
               (or (line-problem (car lines) seen)
                   (loop (cdr lines) (cons (car (car lines)) seen))))))))

(define (coupon-problem code)
  (cond ((not (string? code))
         (string-append "coupon code must be a string: "
                        (pricing-datum->string code)))
        ((null? (run 1 (q) (fresh (minimum kind amount)
                             (membero (list code minimum kind amount)
                                      coupon-rules))))
         (string-append "unknown coupon: " code))
        (else #f)))

;;; ------------------------------------------------------------------
;;; Quotes

(define (price-cart cart)
  (let ((problem (cart-problem cart)))
    (if problem
        (error (string-append "price-cart: " problem))
        (car (run 1 (lines total) (cart-quoteo cart lines total))))))

(define (quote-order cart code)
  (let ((problem (or (cart-problem cart) (and code (coupon-problem code)))))
    (if problem
        (error (string-append "quote-order: " problem))
        (car (run 1 (lines subtotal discount total)
               (cart-quoteo cart lines subtotal)
               (if code
                   (coupono code subtotal discount)
                   (== discount 0))
               (minuso subtotal discount total))))))

;;; ------------------------------------------------------------------
;;; Backward query

(define (sku-position sku)
  (let loop ((products product-catalog) (i 0))
    (cond ((null? products) i)
          ((equal? (car (car products)) sku) i)
          (else (loop (cdr products) (+ i 1))))))

(define (cart-units cart)
  (if (null? cart) 0 (+ (cadr (car cart)) (cart-units (cdr cart)))))

;; Canonical carts a before b: fewer units, then line by line by catalog
;; position, then smaller quantity, a shorter cart first.
(define (cart<? a b)
  (let ((ua (cart-units a)) (ub (cart-units b)))
    (if (= ua ub)
        (let loop ((a a) (b b))
          (cond ((null? a) (not (null? b)))
                ((null? b) #f)
                (else
                 (let ((pa (sku-position (car (car a))))
                       (pb (sku-position (car (car b))))
                       (qa (cadr (car a)))
                       (qb (cadr (car b))))
                   (cond ((< pa pb) #t)
                         ((> pa pb) #f)
                         ((< qa qb) #t)
                         ((> qa qb) #f)
                         (else (loop (cdr a) (cdr b))))))))
        (< ua ub))))

(define (pricing-merge-sort items less?)
  (define (merge a b)
    (let loop ((a a) (b b) (acc '()))
      (cond ((null? a) (append (reverse acc) b))
            ((null? b) (append (reverse acc) a))
            ((less? (car b) (car a)) (loop a (cdr b) (cons (car b) acc)))
            (else (loop (cdr a) b (cons (car a) acc))))))
  (define (split items)
    (let loop ((items items) (left '()) (right '()))
      (if (null? items)
          (cons left right)
          (loop (cdr items) right (cons (car items) left)))))
  (if (or (null? items) (null? (cdr items)))
      items
      (let ((halves (split items)))
        (merge (pricing-merge-sort (car halves) less?)
               (pricing-merge-sort (cdr halves) less?)))))

(define (carts-costing total max-units)
  (cond ((not (and (integer? total) (exact? total)))
         (error (string-append "carts-costing: total must be an exact integer: "
                               (pricing-datum->string total))))
        ((not (and (integer? max-units) (exact? max-units) (>= max-units 0)))
         (error (string-append
                 "carts-costing: max-units must be a non-negative exact integer: "
                 (pricing-datum->string max-units))))
        (else
         (pricing-merge-sort
          (run* (cart) (cart-costso max-units total cart))
          cart<?))))

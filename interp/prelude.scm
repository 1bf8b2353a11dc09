;;; prelude.scm -- the part of the standard library written in Scheme.
;;; Everything here is ordinary Scheme, so a continuation (call/cc, or a flow's
;;; request) can be captured inside any callback these procedures make.

;;; ------------------------------------------------------------ dynamic state

(define (dynamic-wind before thunk after)
  (before)
  (%wind-push! before after)
  (call-with-values thunk
    (lambda results (%wind-pop!) (after) (apply values results))))

(define (with-exception-handler handler thunk)
  (%handlers-push! handler)
  (call-with-values thunk
    (lambda results (%set-handlers! (cdr (%handlers))) (apply values results))))

(define (raise obj)
  (let ((hs (%handlers)))
    (if (null? hs)
        (%raise-uncaught obj)
        (begin
          (%set-handlers! (cdr hs))
          ((car hs) obj)
          (%handler-returned obj)))))

(define (raise-continuable obj)
  (let ((hs (%handlers)))
    (if (null? hs)
        (%raise-uncaught obj)
        (begin
          (%set-handlers! (cdr hs))
          (call-with-values (lambda () ((car hs) obj))
            (lambda results (%set-handlers! hs) (apply values results)))))))

(define-syntax guard
  (syntax-rules ()
    ((guard (var clause ...) e1 e2 ...)
     ((call/cc
       (lambda (guard-k)
         (with-exception-handler
          (lambda (condition)
            ((call/cc
              (lambda (handler-k)
                (guard-k
                 (lambda ()
                   (let ((var condition))
                     (%guard-aux
                      (handler-k (lambda () (raise-continuable condition)))
                      clause ...))))))))
          (lambda ()
            (call-with-values
             (lambda () e1 e2 ...)
             (lambda args (guard-k (lambda () (apply values args)))))))))))))

(define-syntax %guard-aux
  (syntax-rules (else =>)
    ((_ reraise (else result1 result2 ...))
     (begin result1 result2 ...))
    ((_ reraise (test => result))
     (let ((temp test)) (if temp (result temp) reraise)))
    ((_ reraise (test => result) clause1 clause2 ...)
     (let ((temp test)) (if temp (result temp) (%guard-aux reraise clause1 clause2 ...))))
    ((_ reraise (test))
     (or test reraise))
    ((_ reraise (test) clause1 clause2 ...)
     (let ((temp test)) (if temp temp (%guard-aux reraise clause1 clause2 ...))))
    ((_ reraise (test result1 result2 ...))
     (if test (begin result1 result2 ...) reraise))
    ((_ reraise (test result1 result2 ...) clause1 clause2 ...)
     (if test (begin result1 result2 ...) (%guard-aux reraise clause1 clause2 ...)))))

;;; ------------------------------------------------------------ parameters

(define (make-parameter value . converter)
  (if (null? converter)
      (%make-parameter value #f)
      (%make-parameter ((car converter) value) (car converter))))

;; (parameterize ((p v) ...) body ...): every p and v is evaluated first, then
;; the converted values are installed together for the dynamic extent of body.
(define (%parameterize params vals thunk)
  (let ((news (map (lambda (p v)
                     (let ((conv (%parameter-converter p)))
                       (if conv (conv v) v)))
                   params vals))
        (olds #f))
    (dynamic-wind
      (lambda ()
        (set! olds (map %parameter-value params))
        (for-each %parameter-set! params news))
      thunk
      (lambda ()
        (set! news (map %parameter-value params))
        (for-each %parameter-set! params olds)))))

(define-syntax parameterize
  (syntax-rules ()
    ((_ () body ...) (let () body ...))
    ((_ ((p v) ...) body ...)
     (%parameterize (list p ...) (list v ...) (lambda () body ...)))))

;;; ------------------------------------------------------------ syntax

(define-syntax do
  (syntax-rules ()
    ((_ ((var init step ...) ...) (test expr ...) command ...)
     (let loop ((var init) ...)
       (if test
           (begin (if #f #f) expr ...)
           (begin command ... (loop (%do-step var step ...) ...)))))))

(define-syntax %do-step
  (syntax-rules () ((_ x) x) ((_ x y) y)))

(define-syntax case-lambda
  (syntax-rules ()
    ((_ (formals body ...) ...)
     (%case-lambda (lambda formals body ...) ...))))

(define (%case-lambda . clauses)
  (lambda args
    (let ((n (length args)))
      (let loop ((cs clauses))
        (cond ((null? cs) (error "case-lambda: no clause accepts this many arguments:" n))
              ((%arity-accepts? (car cs) n) (apply (car cs) args))
              (else (loop (cdr cs))))))))

(define-syntax let-values
  ;; every init is evaluated outside all the bindings: values go to fresh
  ;; temporaries first, and the formals are bound to them at the end
  (syntax-rules ()
    ((_ (binding ...) body0 body1 ...)
     (let-values "bind" (binding ...) () (let () body0 body1 ...)))
    ((_ "bind" () tmps body)
     (let tmps body))
    ((_ "bind" ((b0 e0) binding ...) tmps body)
     (let-values "mktmp" b0 e0 () (binding ...) tmps body))
    ((_ "mktmp" () e0 args bindings tmps body)
     (call-with-values (lambda () e0)
       (lambda args (let-values "bind" bindings tmps body))))
    ((_ "mktmp" (a . b) e0 (arg ...) bindings (tmp ...) body)
     (let-values "mktmp" b e0 (arg ... x) bindings (tmp ... (a x)) body))
    ((_ "mktmp" a e0 (arg ...) bindings (tmp ...) body)
     (call-with-values (lambda () e0)
       (lambda (arg ... . x) (let-values "bind" bindings (tmp ... (a x)) body))))))

(define-syntax let*-values
  (syntax-rules ()
    ((_ () body ...) (let () body ...))
    ((_ ((formals expr) rest ...) body ...)
     (call-with-values (lambda () expr)
       (lambda formals (let*-values (rest ...) body ...))))))

(define-syntax define-values
  (syntax-rules ()
    ((_ formals expr)
     (begin
       (define tmp (%define-values-check 'formals (call-with-values (lambda () expr) list)))
       (%define-values-from formals tmp)))))

(define (%define-values-check formals vals)
  ;; as many values as formals (at least as many before a rest formal)
  (let loop ((f formals) (v vals))
    (cond ((pair? f)
           (if (pair? v)
               (loop (cdr f) (cdr v))
               (error "define-values: too few values for" formals vals)))
          ((null? f)
           (if (null? v) vals (error "define-values: too many values for" formals vals)))
          (else vals))))

(define-syntax %define-values-from
  (syntax-rules ()
    ((_ () tmp) (begin))
    ((_ (var . rest) tmp)
     (begin
       (define var (let ((v (car tmp))) (set! tmp (cdr tmp)) v))
       (%define-values-from rest tmp)))
    ((_ var tmp) (define var tmp))))

(define-syntax define-record-type
  (syntax-rules ()
    ((_ type #f pred spec ...)
     (begin
       (define type (%make-record-type 'type '(spec ...)))
       (define pred (%record-predicate type))
       (%define-record-field type spec) ...))
    ((_ type #t pred spec ...)
     (define-record-type type #f pred spec ...))
    ((_ type (ctor field ...) pred spec ...)
     (begin
       (define type (%make-record-type 'type '(spec ...)))
       (define ctor (%record-constructor type '(field ...) 'ctor))
       (define pred (%record-predicate type))
       (%define-record-field type spec) ...))
    ((_ type ctor pred spec ...)
     (begin
       (define type (%make-record-type 'type '(spec ...)))
       (define ctor (%record-constructor type #f 'ctor))
       (define pred (%record-predicate type))
       (%define-record-field type spec) ...))))

(define-syntax %define-record-field
  (syntax-rules ()
    ((_ type (field)) (begin))
    ((_ type (field accessor))
     (define accessor (%record-accessor type 'field 'accessor)))
    ((_ type (field accessor modifier))
     (begin
       (define accessor (%record-accessor type 'field 'accessor))
       (define modifier (%record-modifier type 'field 'modifier))))))

;;; ------------------------------------------------------------ promises

(define-record-type promise (%promise box) promise? (box %promise-box %promise-set-box!))

(define-syntax delay-force
  (syntax-rules () ((_ expr) (%promise (cons #f (lambda () expr))))))

(define-syntax delay
  (syntax-rules () ((_ expr) (delay-force (make-promise expr)))))

(define-syntax make-promise-lazy (syntax-rules () ((_ e) (delay-force e))))

(define (make-promise obj)
  (if (promise? obj) obj (%promise (cons #t obj))))

(define (force p)
  (if (not (promise? p))
      p
      (let ((box (%promise-box p)))
        (if (car box)
            (cdr box)
            (let ((p* ((cdr box))))
              (let ((box (%promise-box p)))
                (unless (car box)
                  (let ((box* (%promise-box (make-promise p*))))
                    (set-car! box (car box*))
                    (set-cdr! box (cdr box*))
                    (%promise-set-box! (make-promise p*) box))))
              (force p))))))

(define-syntax assert
  (syntax-rules ()
    ((_ e) (if e #t (error "assertion failed:" 'e)))))

(define-syntax cons-stream
  (syntax-rules () ((_ a b) (cons a (delay b)))))

;;; ------------------------------------------------------------ lists (SRFI 1)

(define (member x lst . eq)
  (if (null? eq)
      (%member x lst)
      (let ((same? (car eq)))
        (let loop ((l lst))
          (cond ((null? l) #f)
                ((same? x (car l)) l)
                (else (loop (cdr l))))))))

(define (assoc x alist . eq)
  (if (null? eq)
      (%assoc x alist)
      (let ((same? (car eq)))
        (let loop ((l alist))
          (cond ((null? l) #f)
                ((same? x (car (car l))) (car l))
                (else (loop (cdr l))))))))

(define (filter pred lst)
  (let loop ((l lst) (acc '()))
    (cond ((null? l) (reverse acc))
          ((pred (car l)) (loop (cdr l) (cons (car l) acc)))
          (else (loop (cdr l) acc)))))

(define (remove pred lst)
  (filter (lambda (x) (not (pred x))) lst))

(define (partition pred lst)
  (let loop ((l lst) (yes '()) (no '()))
    (cond ((null? l) (values (reverse yes) (reverse no)))
          ((pred (car l)) (loop (cdr l) (cons (car l) yes) no))
          (else (loop (cdr l) yes (cons (car l) no))))))

(define (fold kons knil lst . lsts)
  (if (null? lsts)
      (let loop ((l lst) (acc knil))
        (if (null? l) acc (loop (cdr l) (kons (car l) acc))))
      (let loop ((ls (cons lst lsts)) (acc knil))
        (if (%any-null? ls)
            acc
            (loop (map cdr ls) (apply kons (append (map car ls) (list acc))))))))

(define (fold-left f init lst . lsts)
  (if (null? lsts)
      (let loop ((l lst) (acc init))
        (if (null? l) acc (loop (cdr l) (f acc (car l)))))
      (let loop ((ls (cons lst lsts)) (acc init))
        (if (%any-null? ls)
            acc
            (loop (map cdr ls) (apply f acc (map car ls)))))))

(define (fold-right f init lst . lsts)
  (if (null? lsts)
      (let loop ((l (reverse lst)) (acc init))
        (if (null? l) acc (loop (cdr l) (f (car l) acc))))
      (let loop ((ls (map reverse (cons lst lsts))) (acc init))
        (if (%any-null? ls)
            acc
            (loop (map cdr ls) (apply f (append (map car ls) (list acc))))))))

(define (reduce f ridentity lst)
  (if (null? lst)
      ridentity
      (fold f (car lst) (cdr lst))))

(define (reduce-right f ridentity lst)
  (if (null? lst)
      ridentity
      (let loop ((l (reverse lst)) (acc #f) (first #t))
        (cond ((null? l) acc)
              (first (loop (cdr l) (car l) #f))
              (else (loop (cdr l) (f (car l) acc) #f))))))

(define (%any-null? ls)
  (cond ((null? ls) #f) ((null? (car ls)) #t) (else (%any-null? (cdr ls)))))

(define (delete x lst . eq)
  (let ((same? (if (null? eq) equal? (car eq))))
    (filter (lambda (y) (not (same? x y))) lst)))

(define (delete! x lst . eq) (apply delete x lst eq))

(define (delete-duplicates lst . eq)
  (let ((same? (if (null? eq) equal? (car eq))))
    (let loop ((l lst) (acc '()))
      (cond ((null? l) (reverse acc))
            ((let seen ((a acc)) (cond ((null? a) #f) ((same? (car a) (car l)) #t) (else (seen (cdr a)))))
             (loop (cdr l) acc))
            (else (loop (cdr l) (cons (car l) acc)))))))

(define (any pred lst . lsts)
  (if (null? lsts)
      (let loop ((l lst))
        (cond ((null? l) #f)
              ((null? (cdr l)) (pred (car l)))
              ((pred (car l)) => (lambda (v) v))
              (else (loop (cdr l)))))
      (let loop ((ls (cons lst lsts)))
        (if (%any-null? ls)
            #f
            (or (apply pred (map car ls)) (loop (map cdr ls)))))))

(define (every pred lst . lsts)
  (if (null? lsts)
      (let loop ((l lst) (last #t))
        (cond ((null? l) last)
              ((null? (cdr l)) (pred (car l)))
              ((pred (car l)) (loop (cdr l) #t))
              (else #f)))
      (let loop ((ls (cons lst lsts)) (last #t))
        (if (%any-null? ls)
            last
            (let ((v (apply pred (map car ls))))
              (if v (loop (map cdr ls) v) #f))))))

(define (append-map f lst . lsts)
  (apply append (apply map f lst lsts)))

(define (filter-map f lst . lsts)
  (filter (lambda (x) x) (apply map f lst lsts)))

(define (find pred lst)
  (let ((t (find-tail pred lst)))
    (if t (car t) #f)))

(define (find-tail pred lst)
  (let loop ((l lst))
    (cond ((null? l) #f)
          ((pred (car l)) l)
          (else (loop (cdr l))))))

(define (count pred lst . lsts)
  (if (null? lsts)
      (let loop ((l lst) (n 0))
        (if (null? l) n (loop (cdr l) (if (pred (car l)) (+ n 1) n))))
      (let loop ((ls (cons lst lsts)) (n 0))
        (if (%any-null? ls)
            n
            (loop (map cdr ls) (if (apply pred (map car ls)) (+ n 1) n))))))

(define (list-index pred lst . lsts)
  (let loop ((ls (cons lst lsts)) (i 0))
    (cond ((%any-null? ls) #f)
          ((apply pred (map car ls)) i)
          (else (loop (map cdr ls) (+ i 1))))))

(define (take lst k)
  (let loop ((l lst) (k k) (acc '()))
    (if (= k 0) (reverse acc) (loop (cdr l) (- k 1) (cons (car l) acc)))))

(define (drop lst k) (list-tail lst k))

(define (assq-ref alist key) (let ((p (assq key alist))) (if p (cdr p) #f)))

;;; ------------------------------------------------------------ sorting (stable merge sort)

(define (%merge-lists a b less?)
  (let loop ((a a) (b b) (acc '()))
    (cond ((null? a) (append-reverse! acc b))
          ((null? b) (append-reverse! acc a))
          ((less? (car b) (car a)) (loop a (cdr b) (cons (car b) acc)))
          (else (loop (cdr a) b (cons (car a) acc))))))

(define (append-reverse! rev tail)
  (if (null? rev) tail (append-reverse! (cdr rev) (cons (car rev) tail))))

(define (append-reverse rev tail) (append-reverse! rev tail))

(define (%sort-list lst less?)
  (let ((n (length lst)))
    (if (< n 2)
        (list-copy lst)
        (let loop ((runs (map list lst)))
          (if (null? (cdr runs))
              (car runs)
              (loop (let pair-up ((rs runs) (acc '()))
                      (cond ((null? rs) (reverse acc))
                            ((null? (cdr rs)) (reverse (cons (car rs) acc)))
                            (else (pair-up (cddr rs)
                                           (cons (%merge-lists (car rs) (cadr rs) less?) acc)))))))))))

(define (sort seq less?)
  (cond ((vector? seq) (list->vector (%sort-list (vector->list seq) less?)))
        ((procedure? seq) (sort less? seq))
        (else (%sort-list seq less?))))

(define (sort! seq less?) (sort seq less?))

(define (list-sort less? lst)
  (if (procedure? lst) (%sort-list less? lst) (%sort-list lst less?)))

(define (vector-sort less? v)
  (if (procedure? v)
      (list->vector (%sort-list (vector->list less?) v))
      (list->vector (%sort-list (vector->list v) less?))))

(define (vector-sort! v less?)
  (let ((sorted (vector-sort less? v)))
    (vector-copy! v 0 sorted)))

(define (list-merge less? a b) (%merge-lists a b less?))
(define (merge a b less?) (%merge-lists a b less?))

;;; ------------------------------------------------------------ vectors and strings

(define (vector-map f v . vs)
  (list->vector (apply map f (vector->list v) (map vector->list vs))))

(define (vector-for-each f v . vs)
  (apply for-each f (vector->list v) (map vector->list vs)))

(define (string-map f s . ss)
  (list->string (apply map f (string->list s) (map string->list ss))))

(define (string-for-each f s . ss)
  (apply for-each f (string->list s) (map string->list ss)))

(define (string-count s pred)
  (count pred (string->list s)))

(define (vector-count pred v) (count pred (vector->list v)))

(define (vector-index pred v) (list-index pred (vector->list v)))

;;; ------------------------------------------------------------ hash tables (callbacks)

(define (hash-table-ref table key . failure)
  (cond ((hash-table-contains? table key) (%hash-table-ref table key))
        ((null? failure) (%hash-table-ref table key))
        (else ((car failure)))))

(define (hash-table-update! table key f . failure)
  (hash-table-set! table key (f (apply hash-table-ref table key failure))))

(define (hash-table-update!/default table key f default)
  (hash-table-set! table key (f (hash-table-ref/default table key default))))

(define (hash-table-walk table f)
  (for-each (lambda (p) (f (car p) (cdr p))) (hash-table->alist table)))

(define (hash-table-for-each table f) (hash-table-walk table f))

(define (hash-table-fold table kons knil)
  (fold (lambda (p acc) (kons (car p) (cdr p) acc)) knil (hash-table->alist table)))

;;; ------------------------------------------------------------ output

(define (with-output-to-string thunk)
  (let ((port (open-output-string)))
    (parameterize ((current-output-port port)) (thunk))
    (get-output-string port)))

(define (call-with-output-string proc)
  (let ((port (open-output-string)))
    (proc port)
    (get-output-string port)))

(define (call-with-port port proc)
  (if (not (port? port)) (error "call-with-port: expected a port, got" port))
  (call-with-values (lambda () (proc port))
    (lambda vals (close-port port) (apply values vals))))

(define (call-with-input-string s proc)
  (call-with-port (open-input-string s) proc))

(define (call-with-input-file path proc)
  (call-with-port (open-input-file path) proc))

(define (call-with-output-file path proc)
  (call-with-port (open-output-file path) proc))

(define (with-output-to-file path thunk)
  (let ((port (open-output-file path)))
    (call-with-values
      (lambda () (parameterize ((current-output-port port)) (thunk)))
      (lambda vals (close-port port) (apply values vals)))))

(define (with-input-from-file path thunk)
  (let ((port (open-input-file path)))
    (call-with-values
      (lambda () (parameterize ((current-input-port port)) (thunk)))
      (lambda vals (close-port port) (apply values vals)))))

;;; ------------------------------------------------------------ SRFI 8, SRFI 2

(define-syntax receive
  (syntax-rules ()
    ((_ formals expr body ...)
     (call-with-values (lambda () expr) (lambda formals body ...)))))

(define-syntax and-let*
  (syntax-rules ()
    ((_ ()) #t)
    ((_ () body ...) (let () body ...))
    ((_ ((var expr) rest ...) body ...)
     (let ((var expr))
       (if var (and-let* (rest ...) body ...) #f)))
    ((_ ((expr) rest ...) body ...)
     (if expr (and-let* (rest ...) body ...) #f))
    ((_ (var rest ...) body ...)
     (if var (and-let* (rest ...) body ...) #f))))

;;; ------------------------------------------------------------ more of SRFI 1

(define (list-tabulate n proc)
  (let loop ((i (- n 1)) (acc '()))
    (if (< i 0) acc (loop (- i 1) (cons (proc i) acc)))))

(define (first lst) (car lst))
(define (second lst) (cadr lst))
(define (third lst) (caddr lst))
(define (fourth lst) (cadddr lst))
(define (fifth lst) (car (cddddr lst)))

(define (take-while pred lst)
  (let loop ((l lst) (acc '()))
    (if (and (pair? l) (pred (car l)))
        (loop (cdr l) (cons (car l) acc))
        (reverse acc))))

(define (drop-while pred lst)
  (let loop ((l lst))
    (if (and (pair? l) (pred (car l))) (loop (cdr l)) l)))

(define (span pred lst) (values (take-while pred lst) (drop-while pred lst)))

(define (break pred lst) (span (lambda (x) (not (pred x))) lst))

(define (concatenate lists) (apply append lists))

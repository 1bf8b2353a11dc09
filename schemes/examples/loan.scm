;; loan.scm -- a loan application as a durable flow (the worked example of
;; docs/flows.md).
;;
;;   credit check        a request the host serves on the spot (a handler);
;;                       a score under 600 is rejected at once
;;   manager approval    waits for a person, at most 48 hours; when the
;;                       deadline passes first the application goes to a director
;;   decision            sent to the applicant (another served request), and
;;                       the flow's result:
;;                         (approved "manager" 25000)
;;                         (rejected "credit" "score 540 is below 600")
;;
;; Started with one argument, the application: a hash table (a Python dict)
;; with "applicant" and "amount". Approvals are "approve" or "reject": a string
;; from Python, or the symbol from `flowscheme flows resume ID approve`.

(define minimum-score 600)
(define manager-hours 48)

(define (field table name)
  (if (and (hash-table? table) (hash-table-contains? table name))
      (hash-table-ref table name)
      (error "loan-application: missing field" name)))

(define (approve? answer) (member answer '("approve" approve)))

(define (credit-check applicant amount)
  ;; -> the bureau's answer (a table with "score"), or #f when the check kept
  ;; failing: after the RetryPolicy's last attempt the request raises a
  ;; condition here, and this flow compensates by rejecting, not by failing
  (guard (e ((error-object? e) #f))
    (request 'credit-check (list applicant amount))))

(define (approval applicant amount score)
  ;; -> (who answer): the manager's answer, or the director's after 48 h
  (let ((answer (request/timeout 'manager-approval (list applicant amount score)
                                 (* manager-hours 60 60))))
    (if (timeout? answer)
        (list "director"
              (request 'director-approval
                       (list applicant amount score "no answer from the manager in 48 h")))
        (list "manager" answer))))

(define (decide applicant amount credit)
  (cond ((not credit) (list 'rejected "credit" "the credit check is unavailable"))
        ((< (field credit "score") minimum-score)
         (list 'rejected "credit"
               (string-append "score " (number->string (field credit "score"))
                              " is below " (number->string minimum-score))))
        (else
         (let ((who+answer (approval applicant amount (field credit "score"))))
           (if (approve? (cadr who+answer))
               (list 'approved (car who+answer) amount)
               (list 'rejected (car who+answer) "declined"))))))

(defflow loan-application
  (lambda (application)
    (let* ((applicant (field application "applicant"))
           (amount (field application "amount"))
           (outcome (decide applicant amount (credit-check applicant amount))))
      (request 'notify (list applicant outcome (current-second)))
      outcome)))

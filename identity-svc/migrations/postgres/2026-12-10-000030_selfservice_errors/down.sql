DROP TABLE selfservice_errors;

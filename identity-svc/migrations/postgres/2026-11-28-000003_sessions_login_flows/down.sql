DROP TABLE selfservice_login_flows;
DROP TABLE sessions;

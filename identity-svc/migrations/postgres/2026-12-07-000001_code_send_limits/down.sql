DROP TABLE code_send_limits;

mod designs;

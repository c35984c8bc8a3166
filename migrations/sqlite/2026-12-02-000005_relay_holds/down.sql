DROP TABLE relay_holds;

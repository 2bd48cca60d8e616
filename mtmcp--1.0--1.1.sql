/* mtmcp--1.0--1.1.sql -- upgrade mtmcp from 1.0 to 1.1 */

\echo Use "ALTER EXTENSION mtmcp UPDATE TO '1.1'" to load this file. \quit

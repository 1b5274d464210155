import "@credits/api";

import "@credits/core";
